//! The `wxoa` binary as a user runs it: `rules test` against the shipped config, and config
//! errors that name the key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wxoa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wxoa"))
        .args(args)
        .env_remove("WXOA_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run wxoa")
}

fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wxoa.toml")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn rules_test_text_uses_the_shipped_config() {
    let config = shipped_config();
    let out = wxoa(&[
        "rules",
        "test",
        "--config",
        config.to_str().unwrap(),
        "帮助",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("rule: help"), "{text}");
    assert!(text.contains("可用命令"), "{text}");
}

#[test]
fn rules_test_event_and_fallback() {
    let config = shipped_config();
    let config = config.to_str().unwrap();
    let out = wxoa(&["rules", "test", "--config", config, "--event", "subscribe"]);
    assert!(stdout(&out).contains("rule: welcome"), "{out:?}");
    let out = wxoa(&["rules", "test", "--config", config, "随便说点"]);
    let text = stdout(&out);
    assert!(text.contains("rule: fallback"), "{text}");
    assert!(text.contains("收到：随便说点"), "{text}");
    let out = wxoa(&[
        "rules",
        "test",
        "--config",
        config,
        "--event",
        "unsubscribe",
    ]);
    assert!(stdout(&out).contains("no rule matches"), "{out:?}");
}

#[test]
fn rules_test_xml_prints_the_reply_as_sent() {
    let config = shipped_config();
    let out = wxoa(&[
        "rules",
        "test",
        "--config",
        config.to_str().unwrap(),
        "帮助",
        "--xml",
    ]);
    let text = stdout(&out);
    assert!(
        text.starts_with("rule: help\n<xml><ToUserName><![CDATA[o_probe_user]]>"),
        "{text}"
    );
    assert!(
        text.contains("<MsgType><![CDATA[text]]></MsgType>"),
        "{text}"
    );
}

#[test]
fn bad_config_fails_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("wxoa-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "[account]\nappid = \"wx1234567890abcdef\"\ntoken = \"abc\"\nencoding_aes_key = \"short\"\n",
    )
    .unwrap();
    let out = wxoa(&["serve", "--config", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("account.encoding_aes_key"), "{err}");
    assert!(err.contains("43"), "{err}");
}

#[test]
fn missing_config_says_how_to_point_at_one() {
    let out = wxoa(&["rules", "list", "--config", "/nonexistent/wxoa.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--config or WXOA_CONFIG"), "{err}");
}
