//! The platform's checks of a passive reply, and what the follower then sees.
//!
//! A reply is accepted when the status is 200 and the body is `success`, empty, or a reply XML
//! that passes every check of PROTOCOL.md §7: parseable, `<xml>` root, encrypted where the mode
//! requires it (MsgSignature verified, decryptable, the account's appid inside), `ToUserName` =
//! the follower, `FromUserName` = the account, `CreateTime` an integer, a known `MsgType` with its
//! required fields, text ≤ 2047 bytes, news with 1–8 articles. Anything else is a failed attempt
//! with a [`Failure`] saying what to fix.

use std::fmt;

use serde::{Deserialize, Serialize};
use wxoa_proto::crypto::{CryptoError, MsgCrypt};
use wxoa_proto::limits::{MAX_NEWS_ARTICLES, MAX_TEXT_REPLY_BYTES};
use wxoa_proto::reply::{Article, Reply, SUCCESS};
use wxoa_proto::signature::verify;
use wxoa_proto::xml::{Element, XmlLimits, parse_document};

use super::push::Mode;

/// What the follower sees after every attempt failed (the platform's system notice).
pub const BANNER: &str = "该公众号暂时无法提供服务，请稍后再试";

/// What the follower sees in the chat after a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "sees", rename_all = "snake_case")]
pub enum FollowerSees {
    /// A reply bubble.
    Reply(SeenReply),
    /// Nothing: the server answered `success` or an empty body (or the push was `unsubscribe`).
    Nothing,
    /// The system notice [`BANNER`]: every attempt failed.
    Banner {
        /// Why the attempts failed.
        reason: String,
    },
}

impl FollowerSees {
    /// Whether the follower sees the error banner.
    #[must_use]
    pub fn is_banner(&self) -> bool {
        matches!(self, FollowerSees::Banner { .. })
    }

    /// The reply, when there is one.
    #[must_use]
    pub fn reply(&self) -> Option<&SeenReply> {
        match self {
            FollowerSees::Reply(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for FollowerSees {
    /// The chat as the follower sees it: the reply's text, a bracketed summary of a media reply,
    /// `(no reply)`, or the banner.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FollowerSees::Reply(r) => fmt::Display::fmt(r, f),
            FollowerSees::Nothing => f.write_str("(no reply)"),
            FollowerSees::Banner { .. } => f.write_str(BANNER),
        }
    }
}

/// An accepted reply, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenReply {
    /// The reply's fields.
    pub reply: ReplyView,
    /// Whether it came encrypted.
    pub encrypted: bool,
    /// `CreateTime`.
    pub create_time: i64,
    /// How many news articles the follower is shown: 1 in reply to a message the follower sent,
    /// all (up to 8) otherwise; `None` for other reply types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub articles_shown: Option<usize>,
    /// The reply XML (decrypted when it came encrypted).
    pub xml: String,
}

impl fmt::Display for SeenReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reply {
            ReplyView::News { articles } => {
                let shown = self
                    .articles_shown
                    .unwrap_or(articles.len())
                    .min(articles.len());
                for (i, a) in articles.iter().take(shown).enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "[图文] {}", a.title)?;
                    if !a.description.is_empty() {
                        write!(f, "\n{}", a.description)?;
                    }
                    if !a.url.is_empty() {
                        write!(f, "\n{}", a.url)?;
                    }
                }
                Ok(())
            }
            other => fmt::Display::fmt(other, f),
        }
    }
}

/// The fields of a reply, by `MsgType` (`{"msg_type": "text", "content": "…"}` in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename_all = "snake_case")]
pub enum ReplyView {
    /// `text`.
    Text {
        /// `Content`.
        content: String,
    },
    /// `image`.
    Image {
        /// `Image/MediaId`.
        media_id: String,
    },
    /// `voice`.
    Voice {
        /// `Voice/MediaId`.
        media_id: String,
    },
    /// `video`.
    Video {
        /// `Video/MediaId`.
        media_id: String,
        /// `Video/Title`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// `Video/Description`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// `music`.
    Music {
        /// `Music/Title`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// `Music/Description`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// `Music/MusicUrl`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        music_url: Option<String>,
        /// `Music/HQMusicUrl`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hq_music_url: Option<String>,
        /// `Music/ThumbMediaId`.
        thumb_media_id: String,
    },
    /// `news`.
    News {
        /// `Articles/item`, in order.
        articles: Vec<ArticleView>,
    },
    /// `transfer_customer_service`: the conversation goes to the customer-service agents.
    TransferCustomerService {
        /// `TransInfo/KfAccount`; `None` = any agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kf_account: Option<String>,
    },
}

/// One news article of a reply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ArticleView {
    /// `Title`.
    pub title: String,
    /// `Description`.
    pub description: String,
    /// `PicUrl`.
    pub pic_url: String,
    /// `Url`.
    pub url: String,
}

impl ReplyView {
    /// The reply's `MsgType`.
    #[must_use]
    pub fn msg_type(&self) -> &'static str {
        match self {
            ReplyView::Text { .. } => "text",
            ReplyView::Image { .. } => "image",
            ReplyView::Voice { .. } => "voice",
            ReplyView::Video { .. } => "video",
            ReplyView::Music { .. } => "music",
            ReplyView::News { .. } => "news",
            ReplyView::TransferCustomerService { .. } => "transfer_customer_service",
        }
    }

    /// The same reply as the protocol crate's model (to compare with what a handler built).
    #[must_use]
    pub fn to_reply(&self) -> Reply {
        match self.clone() {
            ReplyView::Text { content } => Reply::Text { content },
            ReplyView::Image { media_id } => Reply::Image { media_id },
            ReplyView::Voice { media_id } => Reply::Voice { media_id },
            ReplyView::Video {
                media_id,
                title,
                description,
            } => Reply::Video {
                media_id,
                title,
                description,
            },
            ReplyView::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => Reply::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            },
            ReplyView::News { articles } => Reply::News {
                articles: articles
                    .into_iter()
                    .map(|a| Article {
                        title: a.title,
                        description: a.description,
                        pic_url: a.pic_url,
                        url: a.url,
                    })
                    .collect(),
            },
            ReplyView::TransferCustomerService { kf_account } => {
                Reply::TransferCustomerService { kf_account }
            }
        }
    }
}

impl fmt::Display for ReplyView {
    /// One chat bubble: text as is, other types as a bracketed summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let both = |a: &Option<String>, b: &Option<String>| {
            [a.as_deref(), b.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" — ")
        };
        match self {
            ReplyView::Text { content } => f.write_str(content),
            ReplyView::Image { media_id } => write!(f, "[图片] {media_id}"),
            ReplyView::Voice { media_id } => write!(f, "[语音] {media_id}"),
            ReplyView::Video {
                media_id,
                title,
                description,
            } => {
                let text = both(title, description);
                if text.is_empty() {
                    write!(f, "[视频] {media_id}")
                } else {
                    write!(f, "[视频] {text} ({media_id})")
                }
            }
            ReplyView::Music {
                title,
                description,
                music_url,
                hq_music_url,
                ..
            } => {
                write!(f, "[音乐] {}", both(title, description))?;
                if let Some(url) = hq_music_url.as_ref().or(music_url.as_ref()) {
                    write!(f, " {url}")?;
                }
                Ok(())
            }
            ReplyView::News { articles } => {
                for (i, a) in articles.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "[图文] {}", a.title)?;
                    if !a.url.is_empty() {
                        write!(f, " {}", a.url)?;
                    }
                }
                Ok(())
            }
            ReplyView::TransferCustomerService { kf_account } => match kf_account {
                Some(account) => write!(f, "[转接客服 {account}]"),
                None => f.write_str("[转接客服]"),
            },
        }
    }
}

/// Why one attempt failed, as the platform sees it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// No complete response within the timeout.
    #[error(
        "no response within {timeout_ms} ms; the platform gives up at 5 s and retries: answer within about 4.5 s, or answer `success` and send the result later by 客服消息"
    )]
    Timeout {
        /// The timeout that elapsed, in milliseconds.
        timeout_ms: u64,
    },
    /// The request did not complete (connection refused, reset, …).
    #[error("{reason}")]
    Transport {
        /// What went wrong.
        reason: String,
    },
    /// A status other than 200.
    #[error(
        "HTTP {status}: the platform only accepts 200; after verifying the signature answer 200 `success` when there is nothing to say"
    )]
    Status {
        /// The status received.
        status: u16,
    },
    /// The body is neither `success`, empty, nor well-formed XML.
    #[error(
        "the reply is not well-formed XML ({reason}); answer `success`, an empty body, or a reply <xml>"
    )]
    NotXml {
        /// The parser's complaint.
        reason: String,
    },
    /// The decrypted reply is not well-formed XML.
    #[error("the decrypted reply is not well-formed XML ({reason})")]
    DecryptedNotXml {
        /// The parser's complaint.
        reason: String,
    },
    /// The root element is not `<xml>`.
    #[error("the reply's root element is <{found}>; the platform expects <xml>")]
    NotXmlRoot {
        /// The root element's name.
        found: String,
    },
    /// An `<Encrypt>` reply to a plaintext push.
    #[error(
        "the reply is encrypted but the push was plaintext (明文模式): reply in plaintext when the push has no encrypt_type=aes"
    )]
    EncryptedInPlainMode,
    /// A plaintext XML reply in safe mode.
    #[error(
        "plaintext XML reply in safe mode (安全模式): the platform requires it encrypted (<Encrypt>, <MsgSignature>, <TimeStamp>, <Nonce>)"
    )]
    PlaintextInSafeMode,
    /// The encrypted envelope lacks a field.
    #[error(
        "the encrypted reply has no {field}; the envelope needs Encrypt, MsgSignature, TimeStamp and Nonce"
    )]
    EnvelopeField {
        /// The missing element.
        field: String,
    },
    /// `MsgSignature` does not match.
    #[error(
        "the reply's MsgSignature is not SHA1(sort(token, TimeStamp, Nonce, Encrypt)): does the server use the account's token, and sign with the TimeStamp and Nonce it puts in the envelope?"
    )]
    BadMsgSignature,
    /// `Encrypt` does not decrypt with the account's EncodingAESKey.
    #[error("the reply's Encrypt does not decrypt: {reason}")]
    Decrypt {
        /// The crypto error.
        reason: String,
    },
    /// The appid inside the encrypted reply is not the account's.
    #[error(
        "the appid inside the encrypted reply is {found:?}, the account's appid is {expected:?}: check the server's appid setting"
    )]
    AppIdMismatch {
        /// The account's appid.
        expected: String,
        /// The appid found.
        found: String,
    },
    /// `ToUserName` is not the follower.
    #[error(
        "reply ToUserName is {found:?}; it must be the follower's openid {expected:?} (the push's FromUserName; To and From swap in a reply)"
    )]
    WrongToUserName {
        /// The follower's openid.
        expected: String,
        /// What the reply said.
        found: String,
    },
    /// `FromUserName` is not the account.
    #[error(
        "reply FromUserName is {found:?}; it must be the account id {expected:?} (the push's ToUserName; To and From swap in a reply)"
    )]
    WrongFromUserName {
        /// The account's `gh_` id.
        expected: String,
        /// What the reply said.
        found: String,
    },
    /// `CreateTime` missing or not an integer.
    #[error("reply CreateTime is {found:?}; it must be an integer number of seconds")]
    BadCreateTime {
        /// The text found (empty when missing).
        found: String,
    },
    /// `MsgType` is missing or not a reply type.
    #[error(
        "reply MsgType is {found:?}; the platform knows text, image, voice, video, music, news and transfer_customer_service"
    )]
    UnknownMsgType {
        /// The text found (empty when missing).
        found: String,
    },
    /// A required field is missing or empty.
    #[error("{msg_type} reply has no {field}")]
    MissingField {
        /// The reply's `MsgType`.
        msg_type: String,
        /// The path of the missing element.
        field: String,
    },
    /// A text reply with empty `Content`.
    #[error(
        "text reply with empty Content: an empty bubble is not \"no reply\"; answer `success` or an empty body to send nothing"
    )]
    EmptyContent,
    /// Text over the platform's limit.
    #[error(
        "text reply Content is {bytes} bytes UTF-8; the platform rejects more than {max}: split it and send the rest by 客服消息"
    )]
    TextTooLong {
        /// The content's length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A news reply with no article or too many.
    #[error("news reply has {count} articles; the platform accepts 1 to {max}")]
    ArticleCount {
        /// Articles found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// `ArticleCount` disagrees with the items.
    #[error("news reply ArticleCount is {declared:?} but {actual} <item> elements follow")]
    ArticleCountMismatch {
        /// The `ArticleCount` text.
        declared: String,
        /// The number of `<item>` elements.
        actual: usize,
    },
    /// URL verification: the body is not the echostr.
    #[error(
        "the server answered {found:?} instead of the echostr {expected:?}; echo it verbatim (no quotes, whitespace, XML or JSON)"
    )]
    EchoMismatch {
        /// The echostr sent.
        expected: String,
        /// The start of the body received.
        found: String,
    },
}

/// What a push's reply is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect<'a> {
    pub(crate) mode: Mode,
    pub(crate) token: &'a str,
    pub(crate) crypt: Option<&'a MsgCrypt>,
    pub(crate) openid: &'a str,
    pub(crate) account_id: &'a str,
    /// The push was a message the follower sent (news then shows one article).
    pub(crate) user_message: bool,
}

/// An accepted response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// `success` or empty.
    Nothing,
    /// A valid reply.
    Reply(SeenReply),
}

/// Judge one response as the platform would.
pub(crate) fn judge(expect: &Expect<'_>, status: u16, body: &[u8]) -> Result<Verdict, Failure> {
    if status != 200 {
        return Err(Failure::Status { status });
    }
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == SUCCESS.as_bytes() {
        return Ok(Verdict::Nothing);
    }
    let root = parse_document(body, XmlLimits::default()).map_err(|e| Failure::NotXml {
        reason: e.to_string(),
    })?;
    if root.name != "xml" {
        return Err(Failure::NotXmlRoot {
            found: root.name.into_owned(),
        });
    }
    let (root, xml, encrypted) = if root.child("Encrypt").is_some() {
        if expect.mode == Mode::Plain {
            return Err(Failure::EncryptedInPlainMode);
        }
        let (root, xml) = open_envelope(expect, &root)?;
        (root, xml, true)
    } else {
        if expect.mode == Mode::Safe {
            return Err(Failure::PlaintextInSafeMode);
        }
        (root, String::from_utf8_lossy(body).into_owned(), false)
    };
    let (reply, create_time) = check_reply(expect, &root)?;
    let articles_shown = match &reply {
        ReplyView::News { articles } if expect.user_message => Some(1.min(articles.len())),
        ReplyView::News { articles } => Some(articles.len()),
        _ => None,
    };
    Ok(Verdict::Reply(SeenReply {
        reply,
        encrypted,
        create_time,
        articles_shown,
        xml,
    }))
}

/// Verify and decrypt an encrypted reply envelope; returns the inner root and its XML.
fn open_envelope(expect: &Expect<'_>, envelope: &Element) -> Result<(Element, String), Failure> {
    let field = |name: &str| {
        envelope
            .child_text(name)
            .ok_or_else(|| Failure::EnvelopeField {
                field: name.to_owned(),
            })
    };
    let encrypt = field("Encrypt")?;
    let signature = field("MsgSignature")?;
    let timestamp = field("TimeStamp")?;
    let nonce = field("Nonce")?;
    if !verify(&[expect.token, timestamp, nonce, encrypt], signature) {
        return Err(Failure::BadMsgSignature);
    }
    let Some(crypt) = expect.crypt else {
        // The driver refuses encrypted modes without a key, so this is unreachable in practice.
        return Err(Failure::Decrypt {
            reason: "the driver has no EncodingAESKey".to_owned(),
        });
    };
    let (plain, appid) =
        crypt
            .decrypt_unchecked(encrypt)
            .map_err(|e: CryptoError| Failure::Decrypt {
                reason: e.to_string(),
            })?;
    if appid != crypt.appid() {
        return Err(Failure::AppIdMismatch {
            expected: crypt.appid().to_owned(),
            found: appid,
        });
    }
    let inner =
        parse_document(&plain, XmlLimits::default()).map_err(|e| Failure::DecryptedNotXml {
            reason: e.to_string(),
        })?;
    if inner.name != "xml" {
        return Err(Failure::NotXmlRoot {
            found: inner.name.into_owned(),
        });
    }
    Ok((inner, String::from_utf8_lossy(&plain).into_owned()))
}

/// The header and type rules of a (decrypted) reply.
fn check_reply(expect: &Expect<'_>, root: &Element) -> Result<(ReplyView, i64), Failure> {
    let text = |name: &str| root.child_text(name).map(str::trim).unwrap_or("");
    let to = text("ToUserName");
    if to != expect.openid {
        return Err(Failure::WrongToUserName {
            expected: expect.openid.to_owned(),
            found: to.to_owned(),
        });
    }
    let from = text("FromUserName");
    if from != expect.account_id {
        return Err(Failure::WrongFromUserName {
            expected: expect.account_id.to_owned(),
            found: from.to_owned(),
        });
    }
    let create_time_text = text("CreateTime");
    let create_time = create_time_text
        .parse::<i64>()
        .map_err(|_| Failure::BadCreateTime {
            found: create_time_text.to_owned(),
        })?;
    let msg_type = text("MsgType");
    let missing = |field: &str| Failure::MissingField {
        msg_type: msg_type.to_owned(),
        field: field.to_owned(),
    };
    let required = |section: &str, name: &str| -> Result<String, Failure> {
        root.child(section)
            .and_then(|s| s.child_text(name))
            .map(str::to_owned)
            .ok_or_else(|| missing(&format!("{section}/{name}")))
    };
    let optional = |section: &str, name: &str| {
        root.child(section)
            .and_then(|s| s.child_text(name))
            .map(str::to_owned)
    };
    let view = match msg_type {
        "text" => {
            let content = root
                .child("Content")
                .map(|c| c.text.clone())
                .ok_or_else(|| missing("Content"))?;
            if content.trim().is_empty() {
                return Err(Failure::EmptyContent);
            }
            if content.len() > MAX_TEXT_REPLY_BYTES {
                return Err(Failure::TextTooLong {
                    bytes: content.len(),
                    max: MAX_TEXT_REPLY_BYTES,
                });
            }
            ReplyView::Text { content }
        }
        "image" => ReplyView::Image {
            media_id: required("Image", "MediaId")?,
        },
        "voice" => ReplyView::Voice {
            media_id: required("Voice", "MediaId")?,
        },
        "video" => ReplyView::Video {
            media_id: required("Video", "MediaId")?,
            title: optional("Video", "Title"),
            description: optional("Video", "Description"),
        },
        "music" => ReplyView::Music {
            title: optional("Music", "Title"),
            description: optional("Music", "Description"),
            music_url: optional("Music", "MusicUrl"),
            hq_music_url: optional("Music", "HQMusicUrl"),
            thumb_media_id: required("Music", "ThumbMediaId")?,
        },
        "news" => news(root, &missing)?,
        "transfer_customer_service" => ReplyView::TransferCustomerService {
            kf_account: optional("TransInfo", "KfAccount"),
        },
        other => {
            return Err(Failure::UnknownMsgType {
                found: other.to_owned(),
            });
        }
    };
    Ok((view, create_time))
}

fn news(root: &Element, missing: &dyn Fn(&str) -> Failure) -> Result<ReplyView, Failure> {
    let items: Vec<&Element> = root
        .child("Articles")
        .map(|a| a.children_named("item").collect())
        .unwrap_or_default();
    let count = items.len();
    if count == 0 || count > MAX_NEWS_ARTICLES {
        return Err(Failure::ArticleCount {
            count,
            max: MAX_NEWS_ARTICLES,
        });
    }
    let declared = root
        .child_text("ArticleCount")
        .map(str::trim)
        .ok_or_else(|| missing("ArticleCount"))?;
    if declared.parse::<usize>() != Ok(count) {
        return Err(Failure::ArticleCountMismatch {
            declared: declared.to_owned(),
            actual: count,
        });
    }
    let mut articles = Vec::with_capacity(count);
    for (i, item) in items.into_iter().enumerate() {
        let field = |name: &str| item.child_text(name).unwrap_or("").to_owned();
        let title = field("Title");
        if title.trim().is_empty() {
            return Err(missing(&format!("Articles/item[{}]/Title", i + 1)));
        }
        articles.push(ArticleView {
            title,
            description: field("Description"),
            pic_url: field("PicUrl"),
            url: field("Url"),
        });
    }
    Ok(ReplyView::News { articles })
}

#[cfg(test)]
mod tests {
    use wxoa_proto::envelope::encrypted_reply;

    use super::*;

    const TOKEN: &str = "wxoatesttoken";
    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
    const APPID: &str = "wx49f0ab532d5d035a";

    fn crypt() -> MsgCrypt {
        MsgCrypt::new(KEY, APPID).unwrap()
    }

    fn run(mode: Mode, status: u16, body: &str) -> Result<Verdict, Failure> {
        let crypt = crypt();
        let expect = Expect {
            mode,
            token: TOKEN,
            crypt: Some(&crypt),
            openid: "oUser",
            account_id: "gh_test",
            user_message: true,
        };
        judge(&expect, status, body.as_bytes())
    }

    fn ok(mode: Mode, body: &str) -> SeenReply {
        match run(mode, 200, body) {
            Ok(Verdict::Reply(r)) => r,
            other => panic!("{other:?} for {body}"),
        }
    }

    fn fail(mode: Mode, body: &str) -> Failure {
        run(mode, 200, body).expect_err(body)
    }

    fn text(content: &str) -> String {
        Reply::text(content).to_xml("oUser", "gh_test", 1_700_000_000)
    }

    #[test]
    fn success_and_empty_are_nothing() {
        for body in ["", "success", "success\n", " "] {
            for mode in [Mode::Plain, Mode::Compat, Mode::Safe] {
                assert_eq!(run(mode, 200, body), Ok(Verdict::Nothing), "{body:?}");
            }
        }
    }

    #[test]
    fn status_other_than_200_fails() {
        assert_eq!(
            run(Mode::Plain, 500, "success"),
            Err(Failure::Status { status: 500 })
        );
        assert_eq!(
            run(Mode::Plain, 204, ""),
            Err(Failure::Status { status: 204 })
        );
    }

    #[test]
    fn plaintext_replies_in_plain_and_compat() {
        for mode in [Mode::Plain, Mode::Compat] {
            let r = ok(mode, &text("你好"));
            assert_eq!(
                r.reply,
                ReplyView::Text {
                    content: "你好".to_owned()
                }
            );
            assert!(!r.encrypted);
            assert_eq!(r.create_time, 1_700_000_000);
        }
        assert_eq!(
            fail(Mode::Safe, &text("你好")),
            Failure::PlaintextInSafeMode
        );
    }

    #[test]
    fn encrypted_replies_are_opened_and_checked() {
        let body = encrypted_reply(TOKEN, &crypt(), &text("密文"), "1700000001", "42");
        for mode in [Mode::Compat, Mode::Safe] {
            let r = ok(mode, &body);
            assert!(r.encrypted);
            assert_eq!(r.reply.to_reply(), Reply::text("密文"));
            assert_eq!(r.xml, text("密文"));
        }
        assert_eq!(fail(Mode::Plain, &body), Failure::EncryptedInPlainMode);

        let wrong_token = encrypted_reply("othertoken", &crypt(), &text("x"), "1", "2");
        assert_eq!(fail(Mode::Safe, &wrong_token), Failure::BadMsgSignature);

        let other_appid = MsgCrypt::new(KEY, "wx0123456789abcdef").unwrap();
        let body = encrypted_reply(TOKEN, &other_appid, &text("x"), "1", "2");
        assert_eq!(
            fail(Mode::Safe, &body),
            Failure::AppIdMismatch {
                expected: APPID.to_owned(),
                found: "wx0123456789abcdef".to_owned()
            }
        );

        let other_key =
            MsgCrypt::new("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", APPID).unwrap();
        let body = encrypted_reply(TOKEN, &other_key, &text("x"), "1", "2");
        assert!(matches!(
            fail(Mode::Safe, &body),
            Failure::Decrypt { .. }
                | Failure::DecryptedNotXml { .. }
                | Failure::AppIdMismatch { .. }
        ));

        let no_sig = "<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>";
        assert_eq!(
            fail(Mode::Safe, no_sig),
            Failure::EnvelopeField {
                field: "MsgSignature".to_owned()
            }
        );
    }

    #[test]
    fn header_rules() {
        let swapped = Reply::text("x").to_xml("gh_test", "oUser", 1);
        assert_eq!(
            fail(Mode::Plain, &swapped),
            Failure::WrongToUserName {
                expected: "oUser".to_owned(),
                found: "gh_test".to_owned()
            }
        );
        let wrong_from = Reply::text("x").to_xml("oUser", "gh_other", 1);
        assert!(
            matches!(fail(Mode::Plain, &wrong_from), Failure::WrongFromUserName { found, .. } if found == "gh_other")
        );
        let no_time = text("x").replace("<CreateTime>1700000000</CreateTime>", "");
        assert_eq!(
            fail(Mode::Plain, &no_time),
            Failure::BadCreateTime {
                found: String::new()
            }
        );
        let bad_type = text("x").replace("[text]", "[markdown]");
        assert_eq!(
            fail(Mode::Plain, &bad_type),
            Failure::UnknownMsgType {
                found: "markdown".to_owned()
            }
        );
        assert_eq!(
            fail(Mode::Plain, "<reply/>"),
            Failure::NotXmlRoot {
                found: "reply".to_owned()
            }
        );
        assert!(matches!(
            fail(Mode::Plain, "<xml><ToUserName>"),
            Failure::NotXml { .. }
        ));
        assert!(matches!(
            fail(Mode::Plain, "{\"text\":\"hi\"}"),
            Failure::NotXml { .. }
        ));
        assert!(matches!(
            fail(Mode::Plain, "<html><body>419</body>"),
            Failure::NotXml { .. }
        ));
    }

    #[test]
    fn text_limits() {
        let at_limit = "a".repeat(MAX_TEXT_REPLY_BYTES);
        assert_eq!(
            ok(Mode::Plain, &text(&at_limit)).reply,
            ReplyView::Text { content: at_limit }
        );
        // 683 CJK characters = 2049 bytes.
        let over = "字".repeat(683);
        assert_eq!(
            fail(Mode::Plain, &text(&over)),
            Failure::TextTooLong {
                bytes: 2049,
                max: 2047
            }
        );
        let empty = text("x").replace("<![CDATA[x]]>", "");
        assert_eq!(fail(Mode::Plain, &empty), Failure::EmptyContent);
    }

    #[test]
    fn media_and_news_rules() {
        let image = Reply::Image {
            media_id: "M".to_owned(),
        }
        .to_xml("oUser", "gh_test", 1);
        assert_eq!(
            ok(Mode::Plain, &image).reply,
            ReplyView::Image {
                media_id: "M".to_owned()
            }
        );
        let no_media = Reply::Image {
            media_id: String::new(),
        }
        .to_xml("oUser", "gh_test", 1);
        assert_eq!(
            fail(Mode::Plain, &no_media),
            Failure::MissingField {
                msg_type: "image".to_owned(),
                field: "Image/MediaId".to_owned()
            }
        );
        let music = Reply::Music {
            title: Some("t".to_owned()),
            description: None,
            music_url: None,
            hq_music_url: None,
            thumb_media_id: String::new(),
        }
        .to_xml("oUser", "gh_test", 1);
        assert!(
            matches!(fail(Mode::Plain, &music), Failure::MissingField { field, .. } if field == "Music/ThumbMediaId")
        );
        let article = |t: &str| Article {
            title: t.to_owned(),
            url: "https://e.com".to_owned(),
            ..Default::default()
        };
        let news = |n: usize| {
            Reply::News {
                articles: (0..n).map(|i| article(&format!("a{i}"))).collect(),
            }
            .to_xml("oUser", "gh_test", 1)
        };
        let r = ok(Mode::Plain, &news(3));
        assert!(matches!(&r.reply, ReplyView::News { articles } if articles.len() == 3));
        assert_eq!(
            r.articles_shown,
            Some(1),
            "a news reply to a message shows one article"
        );
        assert_eq!(r.to_string(), "[图文] a0\nhttps://e.com");
        assert_eq!(
            fail(Mode::Plain, &news(9)),
            Failure::ArticleCount { count: 9, max: 8 }
        );
        assert_eq!(
            fail(Mode::Plain, &news(0)),
            Failure::ArticleCount { count: 0, max: 8 }
        );
        let lying = news(2).replace(
            "<ArticleCount>2</ArticleCount>",
            "<ArticleCount>3</ArticleCount>",
        );
        assert!(matches!(
            fail(Mode::Plain, &lying),
            Failure::ArticleCountMismatch { actual: 2, .. }
        ));
        let untitled = news(1).replace("<![CDATA[a0]]>", "");
        assert!(
            matches!(fail(Mode::Plain, &untitled), Failure::MissingField { field, .. } if field == "Articles/item[1]/Title")
        );
        let kf = Reply::TransferCustomerService { kf_account: None }.to_xml("oUser", "gh_test", 1);
        assert_eq!(ok(Mode::Plain, &kf).to_string(), "[转接客服]");
    }

    #[test]
    fn follower_view_and_json() {
        let seen = FollowerSees::Reply(ok(Mode::Plain, &text("你好")));
        assert_eq!(seen.to_string(), "你好");
        assert_eq!(FollowerSees::Nothing.to_string(), "(no reply)");
        let banner = FollowerSees::Banner {
            reason: "x".to_owned(),
        };
        assert_eq!(banner.to_string(), BANNER);
        assert!(banner.is_banner());
        let json = serde_json::to_value(&seen).unwrap();
        assert_eq!(json["sees"], "reply");
        assert_eq!(json["reply"]["msg_type"], "text");
        assert_eq!(json["reply"]["content"], "你好");
        assert_eq!(serde_json::from_value::<FollowerSees>(json).unwrap(), seen);
        assert_eq!(
            serde_json::to_value(&FollowerSees::Nothing).unwrap(),
            serde_json::json!({"sees": "nothing"})
        );
        let f = serde_json::to_value(Failure::TextTooLong {
            bytes: 3000,
            max: 2047,
        })
        .unwrap();
        assert_eq!(
            f,
            serde_json::json!({"kind": "text_too_long", "bytes": 3000, "max": 2047})
        );
    }
}
