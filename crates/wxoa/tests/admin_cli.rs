//! `wxoa admin passwd` as a user runs it: the hash lands in `[admin]` of the config file, the
//! rest of the file stays, the console password then verifies; bad input writes nothing.

mod support;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use support::TempDir;

const CONFIG: &str = "# my bot\n[account]\nappid = \"wx1234567890abcdef\"   # the AppID\ntoken = \"abc123\"\n\n[[rules]]\nname = \"help\"\nkeyword = \"帮助\"\nreply = { text = \"可用命令\" }\n";

fn passwd(config: &std::path::Path, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxoa"))
        .args(["admin", "passwd", "--stdin", "--config"])
        .arg(config)
        .env_remove("WXOA_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wxoa");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn passwd_writes_a_verifiable_hash_and_keeps_the_file() {
    let dir = TempDir::new("admin-cli");
    let path = dir.path().join("wxoa.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let out = passwd(&path, "correct horse battery\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin.password_hash written"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(CONFIG), "{text}");
    let config = wxoa_server::Config::load(&path).unwrap();
    assert!(config.admin.enabled());
    let hash = config.admin.password_hash.unwrap();
    assert!(wxoa_server::admin::auth::verify_password(
        &hash,
        "correct horse battery"
    ));
    assert!(!wxoa_server::admin::auth::verify_password(
        &hash,
        "correct horse battery\n"
    ));
}

#[test]
fn short_password_writes_nothing() {
    let dir = TempDir::new("admin-cli");
    let path = dir.path().join("wxoa.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let out = passwd(&path, "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CONFIG);
}
