//! `wxoa cgi` as a web server runs it: one process per request, cooperating through the SQLite
//! store — sessions persist across processes and a retry gets the first process's answer.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use support::TempDir;
use wxoa_proto::signature::sign;

const TOKEN: &str = "cgitoken123";

fn setup() -> TempDir {
    let tmp = TempDir::new("cgi");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(
        dir.join("scripts/count.rhai"),
        "if \"n\" in session { session.n += 1 } else { session.n = 1 }\n\"第\" + session.n + \"次\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("wxoa.toml"),
        format!(
            "[account]\nappid = \"wx1234567890abcdef\"\ntoken = \"{TOKEN}\"\n\n[store]\nurl = \"sqlite://data/wxoa.db\"\n\n[[rules]]\nname = \"count\"\nmsg_type = \"text\"\nreply = {{ script = \"scripts/count.rhai\" }}\n"
        ),
    )
    .unwrap();
    tmp
}

fn cgi(dir: &TempDir, method: &str, query: &str, body: &str) -> String {
    cgi_at(dir, "", method, query, body)
}

/// One CGI request with `path_info` as PATH_INFO.
fn cgi_at(dir: &TempDir, path_info: &str, method: &str, query: &str, body: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxoa"))
        .env_clear()
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SCRIPT_NAME", "/cgi-bin/wxoa")
        .env("PATH_INFO", path_info)
        .env("REQUEST_METHOD", method)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("WXOA_CONFIG", dir.path().join("wxoa.toml"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wxoa as CGI");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn query(nonce: &str) -> String {
    query_for(TOKEN, nonce)
}

/// The query of a push signed with `token` now.
fn query_for(token: &str, nonce: &str) -> String {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    format!(
        "signature={}&timestamp={ts}&nonce={nonce}",
        sign(&[token, &ts, nonce])
    )
}

fn text(msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_cgi]]></ToUserName><FromUserName><![CDATA[oCgiUser]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

#[test]
fn verification_and_sessions_across_processes_and_retries_from_the_store() {
    let dir = setup();
    let verify = cgi(&dir, "GET", &format!("{}&echostr=8675309", query("1")), "");
    assert!(verify.starts_with("Status: 200 OK\r\n"), "{verify}");
    assert!(verify.ends_with("\r\n\r\n8675309"), "{verify}");

    let first = cgi(&dir, "POST", &query("2"), &text(1));
    assert!(first.contains("第1次"), "{first}");
    let second = cgi(&dir, "POST", &query("3"), &text(2));
    assert!(
        second.contains("第2次"),
        "session persisted across processes: {second}"
    );
    // The platform's retry of message 2, in a new process: the stored answer, no new count.
    let retry = cgi(&dir, "POST", &query("4"), &text(2));
    assert!(retry.contains("第2次"), "{retry}");
    let third = cgi(&dir, "POST", &query("5"), &text(3));
    assert!(
        third.contains("第3次"),
        "the retry did not run the script again: {third}"
    );
    assert!(dir.path().join("data/wxoa.db").exists());
}

#[test]
fn bad_signature_is_403_and_a_bad_config_is_a_plain_500() {
    let dir = setup();
    let refused = cgi(&dir, "POST", "signature=x&timestamp=1&nonce=1", &text(9));
    assert!(
        refused.starts_with("Status: 403 Forbidden\r\n"),
        "{refused}"
    );
    std::fs::write(dir.path().join("wxoa.toml"), "[account]\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxoa"))
        .env_clear()
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", "GET")
        .env("WXOA_CONFIG", dir.path().join("wxoa.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let _ = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("Status: 500"), "{stdout}");
    assert!(!stdout.contains("<html"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("account"));
}

#[test]
fn with_several_accounts_the_path_chooses_the_account() {
    let dir = setup();
    std::fs::write(
        dir.path().join("wxoa.toml"),
        format!(
            "[store]\nurl = \"sqlite://data/wxoa.db\"\n\n\
             [[accounts]]\nname = \"a\"\nappid = \"wx1111111111111111\"\ntoken = \"{TOKEN}\"\npath = \"/a\"\n\
             [[accounts.rules]]\nname = \"hi\"\nmsg_type = \"text\"\nreply = {{ text = \"from a\" }}\n\n\
             [[accounts]]\nname = \"b\"\nappid = \"wx2222222222222222\"\ntoken = \"tokenofb\"\npath = \"/cgi-bin/wxoa/b\"\n\
             [[accounts.rules]]\nname = \"hi\"\nmsg_type = \"text\"\nreply = {{ text = \"from b\" }}\n"
        ),
    )
    .unwrap();
    let a = cgi_at(&dir, "/a", "POST", &query("1"), &text(1));
    assert!(a.contains("from a"), "{a}");
    // SCRIPT_NAME + PATH_INFO is B's path; the same MsgId is B's own push.
    let b = cgi_at(&dir, "/b", "POST", &query_for("tokenofb", "2"), &text(1));
    assert!(b.contains("from b"), "{b}");
    // A's Token at B's path.
    let refused = cgi_at(&dir, "/b", "POST", &query("3"), &text(3));
    assert!(refused.starts_with("Status: 403"), "{refused}");
    let nowhere = cgi_at(&dir, "/c", "POST", &query("4"), &text(4));
    assert!(nowhere.starts_with("Status: 404"), "{nowhere}");
}
