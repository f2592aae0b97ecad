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
use crate::signature::sign_hex;
use crate::xml::cdata_body;

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
    encrypted_reply_with_random(token, crypt, reply_xml, timestamp, nonce, &rand::random())
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
    let timestamp_text = escape_text(timestamp);
    let nonce_text = cdata_body(nonce);
    let mut out = String::with_capacity(
        ENVELOPE_MARKUP_LEN
            + crypt.encrypted_len_of(reply_xml.len())
            + SIGNATURE_LEN
            + timestamp_text.len()
            + nonce_text.len(),
    );
    // The base64 goes straight into the envelope and is signed where it lies (base64 needs no
    // escaping; neither does the hex signature).
    out.push_str(ENVELOPE_OPEN);
    let encrypt_start = out.len();
    crypt.encrypt_into(reply_xml.as_bytes(), random, &mut out);
    let signature = sign_hex(&[token, timestamp, nonce, &out[encrypt_start..]]);
    out.push_str(ENCRYPT_CLOSE);
    out.push_str(signature.as_str());
    out.push_str(SIGNATURE_CLOSE);
    out.push_str(&timestamp_text);
    out.push_str(TIMESTAMP_CLOSE);
    out.push_str(&nonce_text);
    out.push_str(NONCE_CLOSE);
    out
}

/// The envelope's markup, in order around the four values.
const ENVELOPE_OPEN: &str = "<xml>\n<Encrypt><![CDATA[";
const ENCRYPT_CLOSE: &str = "]]></Encrypt>\n<MsgSignature><![CDATA[";
const SIGNATURE_CLOSE: &str = "]]></MsgSignature>\n<TimeStamp>";
const TIMESTAMP_CLOSE: &str = "</TimeStamp>\n<Nonce><![CDATA[";
const NONCE_CLOSE: &str = "]]></Nonce>\n</xml>";
const ENVELOPE_MARKUP_LEN: usize = ENVELOPE_OPEN.len()
    + ENCRYPT_CLOSE.len()
    + SIGNATURE_CLOSE.len()
    + TIMESTAMP_CLOSE.len()
    + NONCE_CLOSE.len();
/// A SHA-1 signature in hex.
const SIGNATURE_LEN: usize = 40;

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
    use crate::signature::sign;

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
    fn envelope_is_built_at_its_exact_length() {
        let crypt = MsgCrypt::new(KEY, APPID).unwrap();
        for len in [0, 1, 13, 31, 32, 33, 200, 1000] {
            let xml = "x".repeat(len);
            let out =
                encrypted_reply_with_random("t", &crypt, &xml, "1411525903", "4610", &[7; 16]);
            assert_eq!(out.len(), out.capacity(), "reply of {len} bytes");
            let encrypt = between(&out, "<Encrypt><![CDATA[", "]]>");
            assert_eq!(encrypt, crypt.encrypt_with_random(xml.as_bytes(), &[7; 16]));
            assert_eq!(encrypt.len(), crypt.encrypted_len_of(len));
        }
    }

    #[test]
    fn text_escaping_borrows_when_clean() {
        assert!(matches!(escape_text("1411525903"), Cow::Borrowed(_)));
        assert_eq!(escape_text("<&>"), "&lt;&amp;&gt;");
    }
}
