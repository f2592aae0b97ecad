//! `wxoa sim` against `wxoa serve`, both the built binary on this machine: one exchange in each
//! mode, an event, a webhook that never answers in time (the platform's three attempts), a
//! server that is down (the banner, exit code 1), and the chat through a pseudo-terminal with a
//! 客服 message arriving from `wxoa mock`.

mod support;

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use support::{Server, TempDir, free_port, start_mock};

const TOKEN: &str = "wxoasimtoken";
const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const APPID: &str = "wx49f0ab532d5d035a";
const BANNER: &str = "该公众号暂时无法提供服务，请稍后再试";
const PLACEHOLDER: &str = "稍等，马上就好";

/// A backend that accepts connections and never answers (a webhook slower than any deadline).
fn silent_backend() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the silent backend");
    let port = listener.local_addr().expect("backend address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// A config for the account, the server on `port`, with the rules below.
fn config_text(port: u16, key: bool, hook_port: u16) -> String {
    let key = if key {
        format!("encoding_aes_key = \"{AES_KEY}\"\n")
    } else {
        String::new()
    };
    format!(
        r#"[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:0"
reply_deadline_ms = 300

[account]
appid = "{APPID}"
secret = "wxoasimsecret"
token = "{TOKEN}"
{key}
[[rules]]
name = "welcome"
event = "subscribe"
reply = {{ text = "欢迎关注！" }}

[[rules]]
name = "help"
keyword = "帮助"
reply = {{ text = "可用命令：帮助" }}

[[rules]]
name = "slow"
keyword = "慢"
on_slow = "retry"
placeholder = "{PLACEHOLDER}"
reply = {{ webhook = "http://127.0.0.1:{hook_port}/hook" }}

[[rules]]
name = "fallback"
msg_type = "text"
reply = {{ text = "收到：{{{{ content }}}}" }}
"#
    )
}

struct Setup {
    dir: TempDir,
    config: PathBuf,
    server: Option<Server>,
}

/// A config in a fresh directory and, when `running`, `wxoa serve` on it.
fn setup(label: &str, key: bool, running: bool) -> Setup {
    let dir = TempDir::new(&format!("sim-{label}"));
    let config = dir.path().join("wxoa.toml");
    std::fs::write(&config, config_text(free_port(), key, silent_backend())).expect("write config");
    let server = running.then(|| Server::start(&config, None));
    Setup {
        dir,
        config,
        server,
    }
}

fn sim(setup: &Setup, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wxoa"))
        .arg("sim")
        .arg("--config")
        .arg(&setup.config)
        .args(args)
        .env_remove("WXOA_CONFIG")
        .env_remove("WXOA_ACCOUNT__ENCODING_AES_KEY")
        .env("RUST_LOG", "warn")
        .current_dir(setup.dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run wxoa sim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn server_log(setup: &Setup) -> String {
    setup
        .server
        .as_ref()
        .map(Server::output)
        .unwrap_or_default()
}

#[test]
fn send_gets_the_reply_in_every_mode() {
    let setup = setup("modes", true, true);
    for mode in ["plain", "compat", "safe"] {
        let out = sim(&setup, &["--send", "帮助", "--mode", mode]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "{mode}: {out:?}\n{}",
            server_log(&setup)
        );
        assert_eq!(stdout, "可用命令：帮助\n", "{mode}: {stderr}");
        assert!(stderr.contains(&format!("{mode} mode")), "{stderr}");
        assert!(stderr.contains("attempt 1: HTTP 200 in "), "{stderr}");
        assert!(!stderr.contains("attempt 2"), "{stderr}");
    }
    // Without --mode: safe, since the config has a key.
    let out = sim(&setup, &["--send", "你好", "--as", "oOtherUser"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "收到：你好\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("safe mode (安全模式), as oOtherUser"),
        "{stderr}"
    );
}

#[test]
fn events_and_json_output() {
    let setup = setup("events", true, true);
    let out = sim(&setup, &["--event", "subscribe"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "欢迎关注！\n");

    let out = sim(&setup, &["--event", "CLICK", "--key", "NO_SUCH_KEY"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "(no reply)\n");

    let out = sim(
        &setup,
        &["--event", "subscribe", "--mode", "compat", "--json"],
    );
    assert!(out.status.success(), "{out:?}");
    let delivery: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON delivery");
    assert_eq!(delivery["push"]["mode"], "compat");
    assert_eq!(delivery["push"]["event"], "subscribe");
    assert_eq!(delivery["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(delivery["outcome"]["sees"], "reply");
    assert_eq!(delivery["outcome"]["reply"]["content"], "欢迎关注！");
    assert_eq!(delivery["outcome"]["encrypted"], true);
}

#[test]
fn a_slow_webhook_is_retried_by_the_platform_then_answered_with_the_placeholder() {
    let setup = setup("slow", true, true);
    // The platform waits 5 s per attempt; 1.5 s here keeps the test short. The server's
    // deadline is 300 ms: it lets attempts 1 and 2 lapse and answers the placeholder on the 3rd.
    let out = sim(
        &setup,
        &["--send", "慢", "--mode", "plain", "--timeout-ms", "1500"],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "{out:?}\n{stderr}\n{}",
        server_log(&setup)
    );
    assert_eq!(stdout, format!("{PLACEHOLDER}\n"), "{stderr}");
    let attempts: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("attempt "))
        .collect();
    assert_eq!(attempts.len(), 3, "{stderr}");
    assert!(
        attempts[0].starts_with("attempt 1: no response in ")
            && attempts[0].contains("no response within 1500 ms"),
        "{stderr}"
    );
    assert!(
        attempts[1].starts_with("attempt 2: no response in ")
            && attempts[1].contains("no response within 1500 ms"),
        "{stderr}"
    );
    assert!(
        attempts[2].starts_with("attempt 3: HTTP 200 in "),
        "{stderr}"
    );
    assert!(
        stderr.contains("the follower waited") && stderr.contains("over 3 attempts"),
        "{stderr}"
    );
}

#[test]
fn a_server_that_is_down_shows_the_banner_and_fails() {
    let setup = setup("down", true, false);
    let out = sim(&setup, &["--send", "帮助"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout, format!("{BANNER}\n"), "{stderr}");
    assert_eq!(stderr.matches("cannot connect to").count(), 4, "{stderr}");
    assert!(stderr.contains("why: 3 attempts failed"), "{stderr}");
}

#[test]
fn encrypted_modes_without_a_key_say_what_to_set() {
    let setup = setup("nokey", false, false);
    for mode in ["compat", "safe"] {
        let out = sim(&setup, &["--send", "帮助", "--mode", mode]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(
            stderr.contains("has no account.encoding_aes_key"),
            "{stderr}"
        );
        assert!(
            stderr.contains("WXOA_ACCOUNT__ENCODING_AES_KEY=") && stderr.contains("--mode plain"),
            "{stderr}"
        );
    }
}

/// What rexpect, which reads bytes as Latin-1 characters, makes of UTF-8 `s`.
fn latin1(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

#[test]
fn chat_through_a_terminal_with_a_kf_message_arriving() {
    let setup = setup("pty", true, true);
    let (_mock, base) = start_mock(&setup.config, &[]);
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxoa"));
    command
        .arg("sim")
        .arg("--config")
        .arg(&setup.config)
        .args(["--mock", &base])
        .env_remove("WXOA_CONFIG")
        .env("RUST_LOG", "warn");
    let mut chat = rexpect::session::spawn_command(command, Some(30_000)).expect("spawn sim");
    chat.exp_string("/help for the commands").expect("intro");
    chat.exp_string("> ").expect("prompt");
    chat.send_line("帮助").expect("type");
    chat.exp_string("attempt 1: HTTP 200")
        .expect("attempt line");
    chat.exp_string(&latin1("< 可用命令：帮助")).expect("reply");
    chat.send_line("/subscribe").expect("type");
    chat.exp_string(&latin1("< 欢迎关注！")).expect("welcome");

    // The bot sends a 客服 message through the mock; the follower messaged a moment ago, so
    // the 48-hour window is open (sim told the mock), and it shows up in the chat.
    let send = Command::new(env!("CARGO_BIN_EXE_wxoa"))
        .args(["send", "text", "oMockUser0000000000000000001", "订单已发货"])
        .arg("--config")
        .arg(&setup.config)
        .env_remove("WXOA_CONFIG")
        .env("WXOA_API__BASE_URL", &base)
        .env("WXOA_ACCOUNT__SECRET", "wxoasimsecret")
        .env("RUST_LOG", "warn")
        .current_dir(setup.dir.path())
        .output()
        .expect("run wxoa send");
    assert!(send.status.success(), "{send:?}");
    chat.exp_string(&latin1("[客服] 订单已发货"))
        .expect("the 客服 message in the chat");

    chat.send_line("/mode plain").expect("type");
    chat.exp_string("now pushing in plain mode").expect("mode");
    chat.send_line("/quit").expect("type");
    chat.exp_eof().expect("sim ends");
    let status = chat.process().wait().expect("exit status");
    assert!(
        matches!(status, rexpect::process::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );
}
