//! `wxoa mock` as a user runs it: the built binary on a free port, the account's AppSecret
//! (generated when the config has none), tokens fetched and 客服 messages sent by the other
//! `wxoa` commands pointed at it, and `POST /mock/push` reaching `wxoa serve`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{DEADLINE, Process, Server, TempDir, free_port, start_mock, wxoa_command};

const APPID: &str = "wx49f0ab532d5d035a";
const TOKEN: &str = "wxoamocktoken";
const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

/// A config in a fresh directory: the server on a free port, the given AppSecret.
fn config(dir: &TempDir, secret: &str) -> PathBuf {
    let path = dir.path().join("wxoa.toml");
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:0"

[account]
appid = "{APPID}"
secret = "{secret}"
token = "{TOKEN}"
encoding_aes_key = "{AES_KEY}"

[[rules]]
name = "help"
keyword = "帮助"
reply = {{ text = "可用命令：帮助" }}
"#,
        port = free_port()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// `wxoa mock` on a free port: the process, its base URL and everything it printed first.
fn mock(config: &Path) -> (Process, String, String) {
    let (proc, base) = start_mock(config, &[]);
    proc.wait_for_line("Ctrl-C stops the mock");
    let intro = proc.output();
    (proc, base, intro)
}

/// Another `wxoa` command against the mock.
fn wxoa(args: &[&str], config: &Path, base: &str, secret: &str) -> Output {
    wxoa_command(args, config)
        .env("WXOA_API__BASE_URL", base)
        .env("WXOA_ACCOUNT__SECRET", secret)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run wxoa")
}

/// GET a text page (e.g. /metrics); panics unless it answers 200.
fn http_text(url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let response = client.get(url).send().await.expect("request");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.text().await.expect("body")
    })
}

fn http(method: &str, url: &str, body: Option<Value>) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let request = match method {
            "GET" => client.get(url),
            _ => client.post(url).json(&body.unwrap_or(Value::Null)),
        };
        let response = request.send().await.expect("request");
        assert!(
            response.status().is_success(),
            "{method} {url}: {response:?}"
        );
        response.json::<Value>().await.expect("JSON answer")
    })
}

#[test]
fn tokens_and_kf_messages_go_through_the_mock() {
    let dir = TempDir::new("mock-cmd-token");
    let config = config(&dir, "");
    let (_mock, base, intro) = mock(&config);
    assert!(base.starts_with("http://127.0.0.1:"), "{intro}");
    let secret = intro
        .split("WXOA_ACCOUNT__SECRET=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no generated secret:\n{intro}"))
        .to_owned();
    assert_eq!(secret.len(), 32, "{intro}");

    let out = wxoa(&["token"], &config, &base, &secret);
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!token.is_empty(), "{out:?}");
    let stats = http("GET", &format!("{base}/mock/stats"), None);
    let fetches = &stats["token_fetches"];
    assert_eq!(
        fetches["classic"].as_u64().unwrap_or(0) + fetches["stable"].as_u64().unwrap_or(0),
        1,
        "{stats}"
    );

    // The platform takes 客服 messages only within 48 h of the follower's last message.
    http(
        "POST",
        &format!("{base}/mock/followers"),
        Some(json!({"openid": "oFollower1"})),
    );
    let refused = wxoa(
        &["send", "text", "oFollower1", "hi"],
        &config,
        &base,
        &secret,
    );
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("45015"),
        "{refused:?}"
    );
    http(
        "POST",
        &format!("{base}/mock/interaction"),
        Some(json!({"openid": "oFollower1", "kind": "message"})),
    );
    let out = wxoa(
        &["send", "text", "oFollower1", "hi"],
        &config,
        &base,
        &secret,
    );
    assert!(out.status.success(), "{out:?}");
    let outbox = http(
        "GET",
        &format!("{base}/mock/outbox?touser=oFollower1"),
        None,
    );
    let messages = outbox["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{outbox}");
    assert_eq!(messages[0]["kind"], "custom");
    assert_eq!(messages[0]["text"], "hi");
    // The command reused the token in the shared store: still one fetch.
    let stats = http("GET", &format!("{base}/mock/stats"), None);
    assert_eq!(stats["token_fetches"]["issued"], 1, "{stats}");

    // Strict like the platform: another secret is refused with 40125.
    let out = wxoa(
        &["token", "--force"],
        &config,
        &base,
        "0123456789abcdef0123456789abcdef",
    );
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("40125"),
        "{out:?}"
    );
}

#[test]
fn a_configured_secret_is_the_valid_one() {
    let dir = TempDir::new("mock-cmd-secret");
    let config = config(&dir, "configuredsecret0000000000000000");
    let (_mock, base, intro) = mock(&config);
    assert!(!intro.contains("WXOA_ACCOUNT__SECRET="), "{intro}");
    assert!(intro.contains("AppSecret: account.secret"), "{intro}");
    let out = wxoa(
        &["token"],
        &config,
        &base,
        "configuredsecret0000000000000000",
    );
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn mock_push_reaches_the_configs_server() {
    let dir = TempDir::new("mock-cmd-push");
    let config = config(&dir, "");
    let server = Server::start(&config, None);
    let (_mock, base, intro) = mock(&config);
    assert!(intro.contains("/wechat (safe mode"), "{intro}");
    for mode in ["plain", "compat", "safe"] {
        let delivery = http(
            "POST",
            &format!("{base}/mock/push"),
            Some(json!({"text": "帮助", "mode": mode, "from": "oPusher"})),
        );
        assert_eq!(delivery["push"]["mode"], mode, "{delivery}");
        assert_eq!(delivery["outcome"]["sees"], "reply", "{delivery}");
        assert_eq!(
            delivery["outcome"]["reply"]["content"], "可用命令：帮助",
            "{delivery}"
        );
        assert_eq!(
            delivery["outcome"]["encrypted"],
            mode != "plain",
            "{delivery}"
        );
    }
    // The push counts as the follower's message: a 客服 message may follow.
    let followers = http("GET", &format!("{base}/mock/followers"), None);
    assert!(
        followers["followers"].as_array().is_some_and(|f| f
            .iter()
            .any(|f| f["openid"] == "oPusher" && !f["last_message_at"].is_null())),
        "{followers}\n{}",
        server.output()
    );
}

#[test]
fn sigterm_writes_out_the_message_log() {
    let dir = TempDir::new("mock-cmd-sigterm");
    let config = config(&dir, "");
    // An admin port of our own, to read the log writer's counters from /metrics.
    let admin = format!("127.0.0.1:{}", free_port());
    let text = std::fs::read_to_string(&config).expect("read config");
    let text = text.replace(
        "admin_listen = \"127.0.0.1:0\"",
        &format!("admin_listen = \"{admin}\""),
    );
    std::fs::write(&config, text).expect("write config");
    let mut server = Server::start(&config, None);
    let (_mock, base, _) = mock(&config);
    const PUSHES: usize = 40;
    for i in 0..PUSHES {
        let delivery = http(
            "POST",
            &format!("{base}/mock/push"),
            Some(json!({"text": format!("第{i}条"), "from": format!("oFollower{}", i % 4)})),
        );
        assert_eq!(delivery["outcome"]["sees"], "nothing", "{delivery}");
    }
    // The writer's counters reach /metrics (they are taken before the recorder exists
    // otherwise, and record nowhere).
    let deadline = Instant::now() + DEADLINE;
    loop {
        let metrics = http_text(&format!("http://{admin}/metrics"));
        let written = metrics
            .lines()
            .find_map(|l| l.strip_prefix("wxoa_log_written_total "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if written == Some(PUSHES as f64) {
            assert!(metrics.contains("wxoa_log_queue_depth"), "{metrics}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "wxoa_log_written_total never reached {PUSHES}:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.signal("-TERM");
    assert!(server.wait_exit(), "{}", server.output());
    let output = server.output();
    assert!(output.contains("message log written out"), "{output}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = wxoa_store::Store::open("sqlite://data/wxoa.db", dir.path())
            .await
            .expect("the server's store");
        let rows = store
            .message_log()
            .recent_messages(1000)
            .await
            .expect("read the log");
        assert_eq!(rows.len(), PUSHES, "every acknowledged push is in the log");
        let mut texts: Vec<String> = rows
            .iter()
            .filter_map(|r| r.entry.content.clone())
            .collect();
        texts.sort();
        let mut expected: Vec<String> = (0..PUSHES).map(|i| format!("第{i}条")).collect();
        expected.sort();
        assert_eq!(texts, expected);
        assert!(
            rows.iter()
                .all(|r| r.entry.source == "fresh" && r.entry.rule.is_none())
        );
        let follower = store
            .followers()
            .follower(APPID, "oFollower1")
            .await
            .expect("read followers")
            .expect("kept from the pushes");
        assert_eq!(follower.messages, 10);
        assert!(follower.last_message_at.is_some());
        store.close().await;
    });
}

/// A config whose `ai` rule asks the `[chat.bot]` profile (its base_url set per run).
fn chat_config(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("wxoa.toml");
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:0"

[account]
appid = "{APPID}"
token = "{TOKEN}"

[chat.bot]
model = "mock-model"
base_url = "http://127.0.0.1:9/v1"

[[rules]]
name = "ai"
msg_type = "text"
on_error = "模型不可用"
reply = {{ chat = "bot" }}
"#,
        port = free_port()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

fn rules_test_against(config: &Path, base: &str, text: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wxoa"))
        .args(["rules", "test", text, "--config"])
        .arg(config)
        .env_remove("WXOA_CONFIG")
        .env("WXOA_CHAT__BOT__BASE_URL", format!("{base}/v1"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run wxoa");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mock_llm_answers_chat_rules_and_records_requests() {
    let dir = TempDir::new("mock-cmd-llm");
    let config = chat_config(&dir);
    let (proc, base) = start_mock(
        &config,
        &[
            "--llm",
            "--llm-rate",
            "1000",
            "--llm-answer",
            "这是**固定**的回答。",
        ],
    );
    let intro = proc.wait_for_line("model: base_url");
    assert!(intro.contains(&format!("{base}/v1")), "{intro}");

    let shown = rules_test_against(&config, &base, "你好");
    assert!(shown.contains("rule: ai"), "{shown}");
    assert!(
        shown.contains("这是固定的回答。"),
        "Markdown rendered: {shown}"
    );
    let requests = http("GET", &format!("{base}/mock/llm/requests"), None);
    let requests = requests.as_array().expect("a list");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["model"], "mock-model");
    assert_eq!(requests[0]["messages"][0]["content"], "你好");

    // Told to fail, the model's error is shown and the rule's on_error answers.
    http(
        "POST",
        &format!("{base}/mock/llm/config"),
        Some(json!({"fault": {"status": 429, "retry_after": 3}})),
    );
    let shown = rules_test_against(&config, &base, "再问");
    assert!(shown.contains("HTTP 429"), "{shown}");
    assert!(shown.contains("模型不可用"), "{shown}");
}

#[test]
fn sim_chats_with_a_chat_rule_served_against_the_fake_model() {
    let dir = TempDir::new("mock-cmd-llm-sim");
    let config = chat_config(&dir);
    let (_mock, base) = start_mock(&config, &["--llm", "--llm-rate", "1000"]);
    // The server's profile points at the mock's model.
    let text = std::fs::read_to_string(&config).expect("read config");
    std::fs::write(
        &config,
        text.replace("http://127.0.0.1:9/v1", &format!("{base}/v1")),
    )
    .expect("write config");
    let server = Server::start(&config, None);
    let sim = |text: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_wxoa"))
            .args(["sim", "--send", text, "--as", "oSimChat", "--config"])
            .arg(&config)
            .env_remove("WXOA_CONFIG")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run wxoa sim");
        assert!(out.status.success(), "{out:?}\n{}", server.output());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = sim("你好");
    assert!(first.contains("你说的是「你好」"), "{first}");
    assert!(first.contains("第 1 轮"), "{first}");
    let second = sim("还记得吗");
    assert!(
        second.contains("第 2 轮"),
        "memory across messages: {second}"
    );
    let requests = http("GET", &format!("{base}/mock/llm/requests"), None);
    assert_eq!(requests.as_array().map(Vec::len), Some(2));
}
