//! Shared helpers for the server's integration tests: a test account, signed requests.
#![allow(dead_code, unreachable_pub)]

pub mod raw;

use std::path::Path;
use std::sync::Arc;

use wxoa_proto::crypto::MsgCrypt;
use wxoa_proto::signature::sign;
use wxoa_server::clock::FixedClock;
use wxoa_server::{App, Config};

pub const TOKEN: &str = "wxoatesttoken";
pub const AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
pub const APPID: &str = "wx49f0ab532d5d035a";
pub const ACCOUNT: &str = "gh_wxoatest";
pub const NOW: i64 = 1_700_000_000;

pub const RULES: &str = r#"
[[rules]]
name = "welcome"
event = "subscribe"
reply = { text = "欢迎关注！" }

[[rules]]
name = "help"
keyword = "使用"
reply = { text = "发送 产品+名称 查询产品" }

[[rules]]
name = "menu-help"
event = "CLICK"
event_key = "MENU_HELP"
reply = { text = "菜单帮助" }

[[rules]]
name = "product"
regex = '^产品\s*(?P<name>\S+)$'
reply = { text = "产品：{{ captures.name }}/{{ captures[1] }}" }

[[rules]]
name = "quiet"
keyword = "安静"
reply = { none = true }

[[rules]]
name = "echo"
msg_type = "text"
reply = { text = "you said: {{ content }}" }
"#;

/// A config for the test account with the given extra `[account]` lines.
pub fn config_text(account_extra: &str) -> String {
    format!(
        "[server]\ntimestamp_skew_secs = 300\n\n[account]\nappid = \"{APPID}\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{AES_KEY}\"\n{account_extra}\n{RULES}"
    )
}

pub fn config(account_extra: &str) -> Config {
    Config::from_toml(&config_text(account_extra), Path::new("wxoa.toml")).expect("test config")
}

pub fn app(account_extra: &str) -> Arc<App> {
    Arc::new(App::new(
        &config(account_extra),
        Arc::new(FixedClock::new(NOW)),
    ))
}

pub fn crypt() -> MsgCrypt {
    MsgCrypt::new(AES_KEY, APPID).expect("test key")
}

/// The query string of a plain push signed at `timestamp`.
pub fn plain_query(timestamp: i64, nonce: &str) -> String {
    let ts = timestamp.to_string();
    let sig = sign(&[TOKEN, &ts, nonce]);
    format!("signature={sig}&timestamp={ts}&nonce={nonce}&openid=oUser")
}

/// Query and body of an encrypted push of `xml` (安全 mode unless `compat`).
pub fn encrypted_push(xml: &str, timestamp: i64, nonce: &str, compat: bool) -> (String, String) {
    let encrypt = crypt().encrypt(xml.as_bytes());
    let ts = timestamp.to_string();
    let msg_sig = sign(&[TOKEN, &ts, nonce, &encrypt]);
    let query = format!(
        "{}&encrypt_type=aes&msg_signature={msg_sig}",
        plain_query(timestamp, nonce)
    );
    let body = if compat {
        let inner = xml.trim_end_matches("</xml>");
        format!("{inner}<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    } else {
        format!(
            "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        )
    };
    (query, body)
}

pub fn text_xml(content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>{NOW}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

pub fn event_xml(event: &str, key: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>{NOW}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )
}

/// The text content of the `<name>` element of a reply XML.
pub fn field(xml: &str, name: &str) -> Option<String> {
    let root = wxoa_proto::xml::parse_document(xml.as_bytes(), Default::default()).ok()?;
    root.child(name).map(|e| e.text.clone())
}

/// Decrypt an encrypted reply envelope after checking its signature.
pub fn open_reply(body: &str) -> String {
    let encrypt = field(body, "Encrypt").expect("Encrypt in reply");
    let sig = field(body, "MsgSignature").expect("MsgSignature");
    let ts = field(body, "TimeStamp").expect("TimeStamp");
    let nonce = field(body, "Nonce").expect("Nonce");
    assert!(
        wxoa_proto::signature::verify(&[TOKEN, &ts, &nonce, &encrypt], &sig),
        "reply MsgSignature must verify"
    );
    String::from_utf8(crypt().decrypt(&encrypt).expect("reply decrypts")).expect("utf-8 reply")
}
