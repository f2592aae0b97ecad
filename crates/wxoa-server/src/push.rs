//! Reading a push and writing its answer, independent of the HTTP framework (shared by `serve`
//! and `cgi`): query parameters, signature and replay checks, mode detection, decryption,
//! parsing, and the (possibly encrypted) reply body.

use std::borrow::Cow;

use wxoa_proto::envelope::encrypted_reply;
use wxoa_proto::message::Inbound;
use wxoa_proto::reply::Reply;
use wxoa_proto::signature;
use wxoa_proto::xml::{self, XmlLimits};

use crate::config::AccountConfig;
use crate::error::EdgeError;

/// The query string of a verification or push request. Every field is optional here; the
/// checks say which one is missing. Values borrow from the query string unless they were
/// percent-encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushQuery<'a> {
    /// sha1(token, timestamp, nonce).
    pub signature: Option<Cow<'a, str>>,
    /// Unix seconds, as text.
    pub timestamp: Option<Cow<'a, str>>,
    /// A random decimal string.
    pub nonce: Option<Cow<'a, str>>,
    /// The verification challenge (GET only).
    pub echostr: Option<Cow<'a, str>>,
    /// The sender (informational; the body's FromUserName is authoritative).
    pub openid: Option<Cow<'a, str>>,
    /// `aes` for 兼容/安全 mode, absent or `raw` for 明文.
    pub encrypt_type: Option<Cow<'a, str>>,
    /// sha1(token, timestamp, nonce, Encrypt) for encrypted pushes.
    pub msg_signature: Option<Cow<'a, str>>,
}

impl<'a> PushQuery<'a> {
    /// Read a raw query string (without the `?`), `application/x-www-form-urlencoded`.
    /// Unknown parameters are ignored.
    ///
    /// # Errors
    /// A parameter the checks use appears twice (which value was signed is ambiguous).
    pub fn parse(query: &'a str) -> Result<Self, EdgeError> {
        let mut parsed = Self::default();
        // The platform's parameters are never escaped: then nothing needs decoding.
        let escaped = memchr::memchr2(b'%', b'+', query.as_bytes()).is_some();
        for pair in pairs(query) {
            let (name, value) = if escaped {
                decode_pair(pair)
            } else {
                split_pair(pair)
            };
            let (field, name) = match name.as_ref() {
                "signature" => (&mut parsed.signature, "signature"),
                "timestamp" => (&mut parsed.timestamp, "timestamp"),
                "nonce" => (&mut parsed.nonce, "nonce"),
                "echostr" => (&mut parsed.echostr, "echostr"),
                "openid" => (&mut parsed.openid, "openid"),
                "encrypt_type" => (&mut parsed.encrypt_type, "encrypt_type"),
                "msg_signature" => (&mut parsed.msg_signature, "msg_signature"),
                _ => continue,
            };
            if field.is_some() {
                return Err(EdgeError::Malformed(format!(
                    "query string does not parse: parameter {name} appears more than once"
                )));
            }
            *field = Some(value);
        }
        Ok(parsed)
    }
}

/// The non-empty `&`-separated pieces of `query`. (`str::split` with a `char` pattern costs a
/// searcher's set-up for each piece; the query has half a dozen and is read on every request.)
fn pairs(query: &str) -> impl Iterator<Item = &str> {
    let mut rest = query;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let (pair, after) = match memchr::memchr(b'&', rest.as_bytes()) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, ""),
            };
            rest = after;
            if !pair.is_empty() {
                return Some(pair);
            }
        }
    })
}

/// One `name=value` pair with nothing escaped, borrowed.
fn split_pair(pair: &str) -> (Cow<'_, str>, Cow<'_, str>) {
    let (name, value) = match memchr::memchr(b'=', pair.as_bytes()) {
        Some(at) => (&pair[..at], &pair[at + 1..]),
        None => (pair, ""),
    };
    (Cow::Borrowed(name), Cow::Borrowed(value))
}

/// One `name=value` pair, `application/x-www-form-urlencoded`: borrowed as is when nothing in
/// it is escaped, decoded otherwise.
fn decode_pair(pair: &str) -> (Cow<'_, str>, Cow<'_, str>) {
    if !pair.bytes().any(|b| b == b'%' || b == b'+') {
        return split_pair(pair);
    }
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .unwrap_or((Cow::Borrowed(""), Cow::Borrowed("")))
}

/// How a push arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 明文: plaintext XML.
    Plain,
    /// 兼容: plaintext fields and `<Encrypt>` in one document.
    Compat,
    /// 安全: only the `<Encrypt>` envelope.
    Safe,
}

impl Mode {
    /// `plain`, `compat` or `safe`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Compat => "compat",
            Self::Safe => "safe",
        }
    }

    /// Whether replies to this push are encrypted.
    #[must_use]
    pub fn is_encrypted(self) -> bool {
        !matches!(self, Self::Plain)
    }
}

/// The limits and clock a push is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// Now, in Unix seconds.
    pub now: i64,
    /// Accepted |now − timestamp|; 0 disables the check.
    pub skew_secs: u64,
    /// XML limits (size and depth).
    pub xml: XmlLimits,
}

/// A verified, decrypted and parsed push.
#[derive(Debug, Clone)]
pub struct DecodedPush {
    /// How it arrived.
    pub mode: Mode,
    /// The message or event.
    pub inbound: Inbound,
    /// The request's nonce (reused in the encrypted reply envelope).
    pub nonce: String,
    /// When it was checked ([`Checks::now`], Unix seconds): the time rules see.
    pub received_at: i64,
}

fn required<'a>(value: Option<&'a Cow<'_, str>>, name: &'static str) -> Result<&'a str, EdgeError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v.as_ref()),
        _ => Err(EdgeError::MissingParam(name)),
    }
}

/// Check `signature` and the replay window; returns (timestamp, nonce).
fn check_signature<'q>(
    account: &AccountConfig,
    query: &'q PushQuery<'_>,
    checks: &Checks,
) -> Result<(&'q str, &'q str), EdgeError> {
    let sig = required(query.signature.as_ref(), "signature")?;
    let timestamp = required(query.timestamp.as_ref(), "timestamp")?;
    let nonce = query.nonce.as_deref().unwrap_or("");
    if !signature::verify(&[&account.token, timestamp, nonce], sig) {
        return Err(EdgeError::BadSignature);
    }
    if checks.skew_secs > 0 {
        let ts: i64 = timestamp.parse().map_err(|_| EdgeError::BadTimestamp)?;
        if checks.now.abs_diff(ts) > checks.skew_secs {
            return Err(EdgeError::StaleTimestamp);
        }
    }
    Ok((timestamp, nonce))
}

/// URL verification (GET): the echostr to answer with, verbatim.
///
/// # Errors
/// Missing parameters, a bad signature or a stale timestamp.
pub fn verify_url<'q>(
    account: &AccountConfig,
    query: &'q PushQuery<'_>,
    checks: &Checks,
) -> Result<&'q str, EdgeError> {
    check_signature(account, query, checks)?;
    query
        .echostr
        .as_deref()
        .ok_or(EdgeError::MissingParam("echostr"))
}

/// Verify, decrypt and parse a push (POST).
///
/// # Errors
/// An [`EdgeError`] saying exactly what is wrong (and, where it can tell, which setting).
pub fn decode_push(
    account: &AccountConfig,
    query: &PushQuery<'_>,
    body: &[u8],
    checks: &Checks,
) -> Result<DecodedPush, EdgeError> {
    let (timestamp, nonce) = check_signature(account, query, checks)?;
    if body.len() > checks.xml.max_bytes {
        return Err(EdgeError::TooLarge {
            max: checks.xml.max_bytes,
        });
    }
    let declared_aes = query
        .encrypt_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("aes"));
    let signed = (timestamp, nonce);
    let flat = xml::parse_flat(body, checks.xml);
    let read_in_place = flat.as_ref().and_then(|flat| match encrypt_field(flat) {
        Some(encrypt) => Some(decrypt_push(
            account,
            query,
            signed,
            encrypt,
            flat.get("MsgType").is_some(),
            checks,
        )),
        None if !declared_aes && !account.require_encryption => {
            Inbound::from_flat(flat).map(|inbound| Ok((Mode::Plain, inbound)))
        }
        None => None,
    });
    let (mode, inbound) = match read_in_place {
        Some(read) => read?,
        None => decode_document(account, query, signed, body, declared_aes, checks)?,
    };
    Ok(DecodedPush {
        mode,
        inbound,
        nonce: nonce.to_owned(),
        received_at: checks.now,
    })
}

/// The `<Encrypt>` value of a flat document (an encrypted push's envelope, 安全 or 兼容), as
/// the full reader would find it; `None` when it has none or an empty one.
fn encrypt_field<'b>(flat: &xml::FlatFields<'b>) -> Option<&'b str> {
    flat.get("Encrypt").map(str::trim).filter(|e| !e.is_empty())
}

/// A push read with the full XML reader: one the flat read does not take (nested or escaped
/// fields, a malformed body), or one refused as plaintext, with the reason.
fn decode_document(
    account: &AccountConfig,
    query: &PushQuery<'_>,
    signed: (&str, &str),
    body: &[u8],
    declared_aes: bool,
    checks: &Checks,
) -> Result<(Mode, Inbound), EdgeError> {
    let root =
        xml::parse_document(body, checks.xml).map_err(|e| EdgeError::Malformed(e.to_string()))?;
    match root.child("Encrypt").map(|e| e.text.trim()) {
        Some(encrypt) if !encrypt.is_empty() => {
            let has_msg_type = root.child("MsgType").is_some();
            decrypt_push(account, query, signed, encrypt, has_msg_type, checks)
        }
        _ => {
            if declared_aes {
                return Err(EdgeError::Malformed(
                    "encrypt_type=aes but the body has no <Encrypt>".to_owned(),
                ));
            }
            if account.require_encryption {
                return Err(EdgeError::PlaintextRefused);
            }
            let inbound =
                Inbound::from_element(root).map_err(|e| EdgeError::Malformed(e.to_string()))?;
            Ok((Mode::Plain, inbound))
        }
    }
}

/// Check `msg_signature` over the `<Encrypt>` value, decrypt it and read the message inside:
/// 兼容 mode when the envelope also carries the plaintext fields (`has_msg_type`), else 安全.
fn decrypt_push(
    account: &AccountConfig,
    query: &PushQuery<'_>,
    (timestamp, nonce): (&str, &str),
    encrypt: &str,
    has_msg_type: bool,
    checks: &Checks,
) -> Result<(Mode, Inbound), EdgeError> {
    let msg_sig = required(query.msg_signature.as_ref(), "msg_signature")?;
    if !signature::verify(&[&account.token, timestamp, nonce, encrypt], msg_sig) {
        return Err(EdgeError::BadMsgSignature);
    }
    let crypt = account.crypt.as_ref().ok_or(EdgeError::NoAesKey)?;
    let plain = crypt.decrypt(encrypt)?;
    let mode = if has_msg_type {
        Mode::Compat
    } else {
        Mode::Safe
    };
    let inbound = Inbound::parse(&plain, checks.xml)
        .map_err(|e| EdgeError::Malformed(format!("decrypted message: {e}")))?;
    Ok((mode, inbound))
}

/// The body answering `push` with `reply` (`None` answers `success`): the reply XML, encrypted
/// when the push was. `success` stays plain in every mode.
#[must_use]
pub fn encode_reply(
    account: &AccountConfig,
    push: &DecodedPush,
    reply: Option<&Reply>,
    now: i64,
) -> String {
    let Some(reply) = reply else {
        return wxoa_proto::reply::SUCCESS.to_owned();
    };
    let xml = reply.to_xml(
        &push.inbound.from_user_name,
        &push.inbound.to_user_name,
        now,
    );
    match (&account.crypt, push.mode.is_encrypted()) {
        (Some(crypt), true) => {
            let mut timestamp = itoa::Buffer::new();
            encrypted_reply(
                &account.token,
                crypt,
                &xml,
                timestamp.format(now),
                &push.nonce,
            )
        }
        _ => xml,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_parameters_borrow_from_the_query() {
        let q = PushQuery::parse(
            "signature=abc&timestamp=1700000000&nonce=42&openid=oU&encrypt_type=aes&msg_signature=def&x=1",
        )
        .unwrap();
        assert!(matches!(q.signature, Some(Cow::Borrowed("abc"))));
        assert_eq!(q.timestamp.as_deref(), Some("1700000000"));
        assert_eq!(q.nonce.as_deref(), Some("42"));
        assert_eq!(q.openid.as_deref(), Some("oU"));
        assert_eq!(q.encrypt_type.as_deref(), Some("aes"));
        assert_eq!(q.msg_signature.as_deref(), Some("def"));
        assert_eq!(q.echostr, None);
    }

    #[test]
    fn escaped_parameters_are_decoded() {
        let q = PushQuery::parse("echostr=a%2Bb+c%E4%B8%AD&sig%6Eature=s&&nonce").unwrap();
        assert_eq!(q.echostr.as_deref(), Some("a+b c中"));
        assert_eq!(q.signature.as_deref(), Some("s"));
        assert_eq!(q.nonce.as_deref(), Some(""));
        assert_eq!(PushQuery::parse("").unwrap(), PushQuery::default());
    }

    proptest::proptest! {
        /// The pieces and their halves are the ones `str::split` and `split_once` give.
        #[test]
        fn pairs_split_as_str_split_does(query in "[a-z=&%+]{0,24}") {
            let ours: Vec<_> = pairs(&query).map(split_pair).collect();
            let std: Vec<_> = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').unwrap_or((p, "")))
                .map(|(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v)))
                .collect();
            proptest::prop_assert_eq!(ours, std);
        }
    }

    #[test]
    fn a_repeated_parameter_is_refused_with_its_name() {
        let err = PushQuery::parse("signature=a&timestamp=1&signature=b").unwrap_err();
        assert!(
            err.to_string().contains("signature appears more than once"),
            "{err}"
        );
        // Repeats of parameters nobody reads are ignored.
        assert!(PushQuery::parse("x=1&x=2").is_ok());
    }
}
