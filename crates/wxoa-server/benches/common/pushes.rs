//! Signed benchmark pushes (明文 or 安全), shared by `examples/bench_pushes.rs` (files for wrk)
//! and `benches/pipeline.rs` (in-process timing).

use wxoa_proto::signature::sign;
use wxoa_server::config::AccountConfig;

/// The account's original ID the pushes are addressed to.
pub(crate) const TO_USER: &str = "gh_wxoabench";

/// One push: the query string (without `?`) and the body. `crypt` set: 安全 mode.
pub(crate) fn push(
    account: &AccountConfig,
    safe: bool,
    msg_id: u64,
    index: u64,
    timestamp: &str,
    content: &str,
) -> (String, String) {
    // A different sender every 1000 messages, like a real audience.
    let from_user = format!("oBenchUser{:06}", index / 1000);
    let nonce = (msg_id % 1_000_000_000).to_string();
    let xml = format!(
        "<xml><ToUserName><![CDATA[{TO_USER}]]></ToUserName><FromUserName><![CDATA[{from_user}]]></FromUserName><CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    );
    let signature = sign(&[&account.token, timestamp, &nonce]);
    let plain_query =
        format!("signature={signature}&timestamp={timestamp}&nonce={nonce}&openid={from_user}");
    match (&account.crypt, safe) {
        (Some(crypt), true) => {
            let encrypt = crypt.encrypt(xml.as_bytes());
            let msg_signature = sign(&[&account.token, timestamp, &nonce, &encrypt]);
            (
                format!("{plain_query}&encrypt_type=aes&msg_signature={msg_signature}"),
                format!(
                    "<xml><ToUserName><![CDATA[{TO_USER}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
                ),
            )
        }
        _ => (plain_query, xml),
    }
}
