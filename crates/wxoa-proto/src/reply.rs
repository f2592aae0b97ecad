//! Passive replies: their exact XML (PROTOCOL.md §7.1) and their validation and splitting.
//!
//! [`Reply::to_xml`] writes one line, strings in CDATA (a `]]>` inside is split across two
//! sections), control characters stripped, numbers bare, empty optional fields omitted.
//! [`Reply::prepare`] checks what WeChat would silently reject or truncate before rendering.

use crate::limits::{MAX_NEWS_ARTICLES, MAX_TEXT_REPLY_BYTES};
use crate::xml::{cdata_body, strip_control_chars};

/// The body that tells WeChat "no reply" without a retry (sent unencrypted in every mode).
pub const SUCCESS: &str = "success";

/// A passive reply, rendered into the HTTP response body.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `text`.
    Text {
        /// The text; may contain newlines and `<a href>` links.
        content: String,
    },
    /// `image`.
    Image {
        /// `MediaId` of an uploaded image.
        media_id: String,
    },
    /// `voice`.
    Voice {
        /// `MediaId` of an uploaded voice clip.
        media_id: String,
    },
    /// `video`.
    Video {
        /// `MediaId` of an uploaded video.
        media_id: String,
        /// Optional title.
        title: Option<String>,
        /// Optional description.
        description: Option<String>,
    },
    /// `music`.
    Music {
        /// Optional title.
        title: Option<String>,
        /// Optional description.
        description: Option<String>,
        /// Optional music link.
        music_url: Option<String>,
        /// Optional high-quality music link (preferred on Wi-Fi).
        hq_music_url: Option<String>,
        /// `ThumbMediaId` of the cover (required).
        thumb_media_id: String,
    },
    /// `news`: 1 to [`MAX_NEWS_ARTICLES`] articles (WeChat shows only 1 in reply to a message).
    News {
        /// The articles; the first gets the large picture.
        articles: Vec<Article>,
    },
    /// `transfer_customer_service`: hand the conversation to the customer-service system.
    TransferCustomerService {
        /// A specific agent (`name@account`); `None` or empty = any agent.
        kf_account: Option<String>,
    },
}

/// One article of a [`Reply::News`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Article {
    /// Title (required).
    pub title: String,
    /// Description.
    pub description: String,
    /// Picture link (360×200 for the first article, 200×200 for the others).
    pub pic_url: String,
    /// Link opened on tap.
    pub url: String,
}

/// A validated reply and, for long text, the part that did not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The reply to render.
    pub reply: Reply,
    /// Text past [`MAX_TEXT_REPLY_BYTES`], to send later (e.g. through the customer-service API);
    /// it may itself need splitting again.
    pub overflow: Option<String>,
}

/// Why a reply cannot be sent as it is.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// A news reply with more articles than WeChat shows.
    #[error(
        "news reply has {count} articles but WeChat accepts at most {max}; send fewer or split them over several messages"
    )]
    TooManyArticles {
        /// Articles given.
        count: usize,
        /// The limit ([`MAX_NEWS_ARTICLES`]).
        max: usize,
    },
    /// A news reply without articles.
    #[error("news reply has no articles; add at least one or send a text reply")]
    NoArticles,
    /// A required field is empty.
    #[error("{reply} reply needs a non-empty {field}")]
    MissingField {
        /// The reply's `MsgType`.
        reply: &'static str,
        /// The XML name of the empty field.
        field: &'static str,
    },
}

impl Reply {
    /// A text reply.
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Reply::Text {
            content: content.into(),
        }
    }

    /// The reply's `MsgType`: `text`, `image`, `voice`, `video`, `music`, `news` or
    /// `transfer_customer_service`.
    #[must_use]
    pub fn msg_type(&self) -> &'static str {
        match self {
            Reply::Text { .. } => "text",
            Reply::Image { .. } => "image",
            Reply::Voice { .. } => "voice",
            Reply::Video { .. } => "video",
            Reply::Music { .. } => "music",
            Reply::News { .. } => "news",
            Reply::TransferCustomerService { .. } => "transfer_customer_service",
        }
    }

    /// Render the passive reply XML on one line.
    ///
    /// `to_user` is the inbound `FromUserName` (the follower's openid), `from_user` the inbound
    /// `ToUserName` (the account's `gh_` id), `create_time` Unix seconds. Strings go in CDATA with
    /// `]]>` split as `]]]]><![CDATA[>` and control characters stripped; numbers are bare; `None`
    /// or empty optional fields are omitted. Article fields are always written. Call
    /// [`Reply::prepare`] first: this method renders whatever it is given.
    #[must_use]
    pub fn to_xml(&self, to_user: &str, from_user: &str, create_time: i64) -> String {
        let mut out = String::with_capacity(256 + self.payload_len());
        out.push_str("<xml>");
        cdata_field(&mut out, "ToUserName", to_user);
        cdata_field(&mut out, "FromUserName", from_user);
        out.push_str("<CreateTime>");
        out.push_str(itoa::Buffer::new().format(create_time));
        out.push_str("</CreateTime>");
        cdata_field(&mut out, "MsgType", self.msg_type());
        match self {
            Reply::Text { content } => cdata_field(&mut out, "Content", content),
            Reply::Image { media_id } => {
                out.push_str("<Image>");
                cdata_field(&mut out, "MediaId", media_id);
                out.push_str("</Image>");
            }
            Reply::Voice { media_id } => {
                out.push_str("<Voice>");
                cdata_field(&mut out, "MediaId", media_id);
                out.push_str("</Voice>");
            }
            Reply::Video {
                media_id,
                title,
                description,
            } => {
                out.push_str("<Video>");
                cdata_field(&mut out, "MediaId", media_id);
                optional_field(&mut out, "Title", title.as_deref());
                optional_field(&mut out, "Description", description.as_deref());
                out.push_str("</Video>");
            }
            Reply::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => {
                out.push_str("<Music>");
                optional_field(&mut out, "Title", title.as_deref());
                optional_field(&mut out, "Description", description.as_deref());
                optional_field(&mut out, "MusicUrl", music_url.as_deref());
                optional_field(&mut out, "HQMusicUrl", hq_music_url.as_deref());
                cdata_field(&mut out, "ThumbMediaId", thumb_media_id);
                out.push_str("</Music>");
            }
            Reply::News { articles } => {
                out.push_str("<ArticleCount>");
                out.push_str(itoa::Buffer::new().format(articles.len()));
                out.push_str("</ArticleCount>");
                out.push_str("<Articles>");
                for article in articles {
                    out.push_str("<item>");
                    cdata_field(&mut out, "Title", &article.title);
                    cdata_field(&mut out, "Description", &article.description);
                    cdata_field(&mut out, "PicUrl", &article.pic_url);
                    cdata_field(&mut out, "Url", &article.url);
                    out.push_str("</item>");
                }
                out.push_str("</Articles>");
            }
            Reply::TransferCustomerService { kf_account } => {
                if let Some(account) = non_empty(kf_account.as_deref()) {
                    out.push_str("<TransInfo>");
                    cdata_field(&mut out, "KfAccount", account);
                    out.push_str("</TransInfo>");
                }
            }
        }
        out.push_str("</xml>");
        out
    }

    /// Validate the reply and split text that is too long.
    ///
    /// Text over [`MAX_TEXT_REPLY_BYTES`] UTF-8 bytes is cut at the last char boundary at or below
    /// the limit; the rest is returned as [`Prepared::overflow`] (the two concatenate back to the
    /// original).
    ///
    /// # Errors
    ///
    /// [`ReplyError::NoArticles`] / [`ReplyError::TooManyArticles`] for news with 0 or more than
    /// [`MAX_NEWS_ARTICLES`] articles; [`ReplyError::MissingField`] for an empty required field:
    /// text `Content` (an empty text bubble is not "no reply": send [`SUCCESS`] instead), `MediaId`,
    /// music `ThumbMediaId`, an article `Title`.
    pub fn prepare(self) -> Result<Prepared, ReplyError> {
        let reply_type = self.msg_type();
        let missing = |field| ReplyError::MissingField {
            reply: reply_type,
            field,
        };
        match self {
            Reply::Text { content } => {
                if content.is_empty() {
                    return Err(missing("Content"));
                }
                let (head, overflow) = split_text(content, MAX_TEXT_REPLY_BYTES);
                Ok(Prepared {
                    reply: Reply::Text { content: head },
                    overflow,
                })
            }
            Reply::Image { ref media_id }
            | Reply::Voice { ref media_id }
            | Reply::Video { ref media_id, .. } => {
                if is_blank(media_id) {
                    return Err(missing("MediaId"));
                }
                Ok(Prepared {
                    reply: self,
                    overflow: None,
                })
            }
            Reply::Music {
                ref thumb_media_id, ..
            } => {
                if is_blank(thumb_media_id) {
                    return Err(missing("ThumbMediaId"));
                }
                Ok(Prepared {
                    reply: self,
                    overflow: None,
                })
            }
            Reply::News { ref articles } => {
                if articles.is_empty() {
                    return Err(ReplyError::NoArticles);
                }
                if articles.len() > MAX_NEWS_ARTICLES {
                    return Err(ReplyError::TooManyArticles {
                        count: articles.len(),
                        max: MAX_NEWS_ARTICLES,
                    });
                }
                if articles.iter().any(|a| is_blank(&a.title)) {
                    return Err(missing("Title"));
                }
                Ok(Prepared {
                    reply: self,
                    overflow: None,
                })
            }
            Reply::TransferCustomerService { .. } => Ok(Prepared {
                reply: self,
                overflow: None,
            }),
        }
    }

    /// Rough byte size of the reply's strings, to size the output buffer once.
    fn payload_len(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 48);
        match self {
            Reply::Text { content } => content.len(),
            Reply::Image { media_id } | Reply::Voice { media_id } => media_id.len() + 48,
            Reply::Video {
                media_id,
                title,
                description,
            } => media_id.len() + opt(title) + opt(description) + 48,
            Reply::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => {
                opt(title)
                    + opt(description)
                    + opt(music_url)
                    + opt(hq_music_url)
                    + thumb_media_id.len()
                    + 96
            }
            Reply::News { articles } => articles
                .iter()
                .map(|a| a.title.len() + a.description.len() + a.pic_url.len() + a.url.len() + 160)
                .sum(),
            Reply::TransferCustomerService { kf_account } => opt(kf_account),
        }
    }
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Split `s` at the last char boundary at or below `max` bytes.
fn split_text(mut s: String, max: usize) -> (String, Option<String>) {
    if s.len() <= max {
        return (s, None);
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let rest = s.split_off(cut);
    (s, Some(rest))
}

/// `<name><![CDATA[value]]></name>`, omitted when `value` is `None` or empty.
fn optional_field(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = non_empty(value) {
        cdata_field(out, name, v);
    }
}

/// `<name><![CDATA[value]]></name>` with control characters stripped and `]]>` split.
fn cdata_field(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str("><![CDATA[");
    out.push_str(&cdata_body(&strip_control_chars(value)));
    out.push_str("]]></");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_splits_terminator_and_strips_controls() {
        let mut out = String::new();
        cdata_field(&mut out, "A", "x]]>y\u{1}]]>");
        assert_eq!(out, "<A><![CDATA[x]]]]><![CDATA[>y]]]]><![CDATA[>]]></A>");
    }

    #[test]
    fn split_text_respects_char_boundaries() {
        let (head, rest) = split_text("ab中".to_owned(), 3);
        assert_eq!(head, "ab");
        assert_eq!(rest.as_deref(), Some("中"));
        let (head, rest) = split_text("abc".to_owned(), 3);
        assert_eq!((head.as_str(), rest), ("abc", None));
    }

    #[test]
    fn msg_types() {
        assert_eq!(Reply::text("x").msg_type(), "text");
        assert_eq!(
            Reply::TransferCustomerService { kf_account: None }.msg_type(),
            "transfer_customer_service"
        );
    }
}
