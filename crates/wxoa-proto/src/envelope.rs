//! The encrypted passive-reply envelope (`<Encrypt>`, `<MsgSignature>`, `<TimeStamp>`, `<Nonce>`).
//!
//! The layout is the official sample's template, byte for byte (PROTOCOL.md §4.4, vector V3b):
//!
//! ```text
//! <xml>
//! <Encrypt><![CDATA[{encrypt}]]></Encrypt>
//! <MsgSignature><![CDATA[{signature}]]></MsgSignature>
//! <TimeStamp>{timestamp}</TimeStamp>
//! <Nonce><![CDATA[{nonce}]]></Nonce>
//! </xml>
//! ```
//!
//! `MsgSignature = sign([token, timestamp, nonce, Encrypt])` with the same timestamp and nonce
//! that go into the envelope. Use seconds for the timestamp (milliseconds have been seen to fail).

use std::borrow::Cow;

use crate::crypto::MsgCrypt;
use crate::signature::sign;

/// Encrypt `reply_xml` (16 CSPRNG random bytes) and wrap it in the signed envelope.
///
/// `timestamp` (Unix seconds) and `nonce` are normally the ones of the request being answered.
/// They are signed as given; in the XML the nonce's CDATA and the timestamp's text are escaped
/// so that any value parses back to exactly what was signed (WeChat only sends digits).
///
/// # Panics
/// If `reply_xml` is longer than `u32::MAX` bytes (see [`MsgCrypt::encrypt`]).
#[must_use]
pub fn encrypted_reply(
    token: &str,
    crypt: &MsgCrypt,
    reply_xml: &str,
    timestamp: &str,
    nonce: &str,
) -> String {
    let encrypt = crypt.encrypt(reply_xml.as_bytes());
    envelope(token, &encrypt, timestamp, nonce)
}

/// [`encrypted_reply`] with a fixed 16-byte random prefix (deterministic; for tests and vectors).
///
/// # Panics
/// If `reply_xml` is longer than `u32::MAX` bytes (see [`MsgCrypt::encrypt`]).
#[must_use]
pub fn encrypted_reply_with_random(
    token: &str,
    crypt: &MsgCrypt,
    reply_xml: &str,
    timestamp: &str,
    nonce: &str,
    random: &[u8; 16],
) -> String {
    let encrypt = crypt.encrypt_with_random(reply_xml.as_bytes(), random);
    envelope(token, &encrypt, timestamp, nonce)
}

/// Sign and format the envelope around an already encrypted `Encrypt` value (base64, so it needs
/// no escaping; neither does the hex signature).
fn envelope(token: &str, encrypt: &str, timestamp: &str, nonce: &str) -> String {
    let signature = sign(&[token, timestamp, nonce, encrypt]);
    format!(
        "<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n\
         <MsgSignature><![CDATA[{signature}]]></MsgSignature>\n\
         <TimeStamp>{timestamp}</TimeStamp>\n\
         <Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>",
        timestamp = escape_text(timestamp),
        nonce = cdata_body(nonce),
    )
}

/// Content for `<![CDATA[..]]>` that parses back to `s`: each `]]>` is split across two sections.
fn cdata_body(s: &str) -> Cow<'_, str> {
    if s.contains("]]>") {
        Cow::Owned(s.replace("]]>", "]]]]><![CDATA[>"))
    } else {
        Cow::Borrowed(s)
    }
}

/// XML character data that parses back to `s`.
fn escape_text(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
    const APPID: &str = "wx49f0ab532d5d035a";

    fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
        let from = s.find(start).unwrap() + start.len();
        let to = from + s[from..].find(end).unwrap();
        &s[from..to]
    }

    #[test]
    fn envelope_shape_and_signature() {
        let crypt = MsgCrypt::new(KEY, APPID).unwrap();
        let out = encrypted_reply("123456", &crypt, "<xml>hi</xml>", "1411525903", "461056294");
        assert!(out.starts_with("<xml>\n<Encrypt><![CDATA["), "{out}");
        assert!(out.ends_with("]]></Nonce>\n</xml>"), "{out}");
        assert!(
            out.contains("\n<TimeStamp>1411525903</TimeStamp>\n"),
            "{out}"
        );
        assert!(
            out.contains("\n<Nonce><![CDATA[461056294]]></Nonce>\n"),
            "{out}"
        );
        let encrypt = between(&out, "<Encrypt><![CDATA[", "]]>");
        let sig = between(&out, "<MsgSignature><![CDATA[", "]]>");
        assert_eq!(sig, sign(&["123456", "1411525903", "461056294", encrypt]));
        assert_eq!(crypt.decrypt(encrypt).unwrap(), b"<xml>hi</xml>");
    }

    #[test]
    fn hostile_nonce_and_timestamp_are_escaped() {
        let crypt = MsgCrypt::new(KEY, APPID).unwrap();
        let out = encrypted_reply_with_random("t", &crypt, "<xml/>", "1<2&", "a]]>b", &[0; 16]);
        assert!(out.contains("<TimeStamp>1&lt;2&amp;</TimeStamp>"), "{out}");
        assert!(
            out.contains("<Nonce><![CDATA[a]]]]><![CDATA[>b]]></Nonce>"),
            "{out}"
        );
        // The signature is over the raw values, which is what an XML parser reads back.
        let encrypt = between(&out, "<Encrypt><![CDATA[", "]]>");
        let sig = between(&out, "<MsgSignature><![CDATA[", "]]>");
        assert_eq!(sig, sign(&["t", "1<2&", "a]]>b", encrypt]));
    }

    #[test]
    fn cdata_and_escape_helpers() {
        assert!(matches!(cdata_body("123"), Cow::Borrowed("123")));
        assert_eq!(cdata_body("]]>]]>"), "]]]]><![CDATA[>]]]]><![CDATA[>");
        assert!(matches!(escape_text("1411525903"), Cow::Borrowed(_)));
        assert_eq!(escape_text("<&>"), "&lt;&amp;&gt;");
    }
}
