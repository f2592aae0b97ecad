//! 客服消息 (custom-service messages): `message/custom/send` for every message type, and the typing indicator.
//!
//! The platform accepts them only inside an interaction window (48 h after the user's message,
//! 1 min after a menu click / subscribe / scan): outside it answers 45015, and 45047 when the
//! window's quota is spent (PROTOCOL §9.1). A send is never repeated on `-1`.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::client::{Client, Req, decode_ok};
use crate::error::ApiError;

/// Most articles accepted in a `news` message (the platform currently shows 1).
pub const MAX_NEWS_ARTICLES: usize = 8;

/// A 客服 message to one follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMessage {
    /// Recipient openid.
    pub touser: String,
    /// What to send.
    pub body: CustomBody,
    /// Send as this 客服 account (`customservice.kf_account`, e.g. `test1@kftest`).
    pub kf_account: Option<String>,
}

/// The payload of a [`CustomMessage`], one variant per `msgtype`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustomBody {
    /// `text`: may contain `<a href>` links and 小程序 links.
    Text {
        /// The text.
        content: String,
    },
    /// `image`.
    Image {
        /// Uploaded media id.
        media_id: String,
    },
    /// `voice`.
    Voice {
        /// Uploaded media id.
        media_id: String,
    },
    /// `video`.
    Video(Video),
    /// `music`.
    Music(Music),
    /// `news`: an external link card (the platform shows 1 article).
    News(Vec<NewsArticle>),
    /// `mpnews`: a news material by media id.
    MpNews {
        /// Material media id.
        media_id: String,
    },
    /// `mpnewsarticle`: a published article (from freepublish).
    MpNewsArticle {
        /// Published article id.
        article_id: String,
    },
    /// `msgmenu`: a menu of choices inside the message.
    MsgMenu(MsgMenu),
    /// `wxcard`: a card coupon.
    WxCard {
        /// Card id.
        card_id: String,
    },
    /// `miniprogrampage`: a mini program card.
    MiniProgramPage(MiniProgramPage),
}

/// A `video` payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Video {
    /// Uploaded video media id.
    pub media_id: String,
    /// Thumbnail media id.
    pub thumb_media_id: String,
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A `music` payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Music {
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Music link.
    pub musicurl: String,
    /// High-quality link (Wi-Fi).
    pub hqmusicurl: String,
    /// Thumbnail media id.
    pub thumb_media_id: String,
}

/// One article of a `news` message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct NewsArticle {
    /// Title.
    pub title: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Link opened on tap.
    pub url: String,
    /// Picture URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picurl: Option<String>,
}

/// A `msgmenu` payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MsgMenu {
    /// Text above the choices.
    pub head_content: String,
    /// The choices; a tap sends a text message with the item's `id` as `bizmsgmenuid`.
    pub list: Vec<MsgMenuItem>,
    /// Text below the choices.
    pub tail_content: String,
}

/// One choice of a [`MsgMenu`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MsgMenuItem {
    /// Choice id.
    pub id: String,
    /// Choice text.
    pub content: String,
}

/// A `miniprogrampage` payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MiniProgramPage {
    /// Card title.
    pub title: String,
    /// Mini program AppID (linked to this account).
    pub appid: String,
    /// Page path.
    pub pagepath: String,
    /// Thumbnail media id.
    pub thumb_media_id: String,
}

impl CustomBody {
    /// The platform's `msgtype`.
    #[must_use]
    pub fn msgtype(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Voice { .. } => "voice",
            Self::Video(_) => "video",
            Self::Music(_) => "music",
            Self::News(_) => "news",
            Self::MpNews { .. } => "mpnews",
            Self::MpNewsArticle { .. } => "mpnewsarticle",
            Self::MsgMenu(_) => "msgmenu",
            Self::WxCard { .. } => "wxcard",
            Self::MiniProgramPage(_) => "miniprogrampage",
        }
    }

    fn payload(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Self::Text { content } => json!({ "content": content }),
            Self::Image { media_id } | Self::Voice { media_id } | Self::MpNews { media_id } => {
                json!({ "media_id": media_id })
            }
            Self::Video(v) => json!(v),
            Self::Music(m) => json!(m),
            Self::News(articles) => json!({ "articles": articles }),
            Self::MpNewsArticle { article_id } => json!({ "article_id": article_id }),
            Self::MsgMenu(m) => json!(m),
            Self::WxCard { card_id } => json!({ "card_id": card_id }),
            Self::MiniProgramPage(p) => json!(p),
        }
    }
}

impl Serialize for CustomMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("touser", &self.touser)?;
        let msgtype = self.body.msgtype();
        map.serialize_entry("msgtype", msgtype)?;
        map.serialize_entry(msgtype, &self.body.payload())?;
        if let Some(kf) = &self.kf_account {
            map.serialize_entry("customservice", &serde_json::json!({ "kf_account": kf }))?;
        }
        map.end()
    }
}

impl CustomMessage {
    /// A message `body` to `touser`.
    pub fn new(touser: impl Into<String>, body: CustomBody) -> Self {
        Self {
            touser: touser.into(),
            body,
            kf_account: None,
        }
    }

    /// A text message.
    pub fn text(touser: impl Into<String>, content: impl Into<String>) -> Self {
        Self::new(
            touser,
            CustomBody::Text {
                content: content.into(),
            },
        )
    }

    /// An image message.
    pub fn image(touser: impl Into<String>, media_id: impl Into<String>) -> Self {
        Self::new(
            touser,
            CustomBody::Image {
                media_id: media_id.into(),
            },
        )
    }

    /// A voice message.
    pub fn voice(touser: impl Into<String>, media_id: impl Into<String>) -> Self {
        Self::new(
            touser,
            CustomBody::Voice {
                media_id: media_id.into(),
            },
        )
    }

    /// A news (link card) message.
    pub fn news(touser: impl Into<String>, articles: Vec<NewsArticle>) -> Self {
        Self::new(touser, CustomBody::News(articles))
    }

    /// Send as the 客服 account `kf_account`.
    #[must_use]
    pub fn with_kf_account(mut self, kf_account: impl Into<String>) -> Self {
        self.kf_account = Some(kf_account.into());
        self
    }

    /// Check the fields the platform requires.
    ///
    /// # Errors
    /// A message naming the missing or out-of-range field.
    pub fn validate(&self) -> Result<(), String> {
        fn need(field: &str, v: &str) -> Result<(), String> {
            if v.trim().is_empty() {
                Err(format!("{field} is required"))
            } else {
                Ok(())
            }
        }
        need("touser", &self.touser)?;
        match &self.body {
            CustomBody::Text { content } => need("text.content", content),
            CustomBody::Image { media_id } => need("image.media_id", media_id),
            CustomBody::Voice { media_id } => need("voice.media_id", media_id),
            CustomBody::MpNews { media_id } => need("mpnews.media_id", media_id),
            CustomBody::Video(v) => need("video.media_id", &v.media_id)
                .and(need("video.thumb_media_id", &v.thumb_media_id)),
            CustomBody::Music(m) => need("music.musicurl", &m.musicurl)
                .and(need("music.thumb_media_id", &m.thumb_media_id)),
            CustomBody::News(articles) => {
                if articles.is_empty() || articles.len() > MAX_NEWS_ARTICLES {
                    return Err(format!(
                        "news needs 1 to {MAX_NEWS_ARTICLES} articles, got {}",
                        articles.len()
                    ));
                }
                for (i, a) in articles.iter().enumerate() {
                    need(&format!("news.articles[{i}].title"), &a.title)?;
                    need(&format!("news.articles[{i}].url"), &a.url)?;
                }
                Ok(())
            }
            CustomBody::MpNewsArticle { article_id } => {
                need("mpnewsarticle.article_id", article_id)
            }
            CustomBody::MsgMenu(m) => {
                if m.list.is_empty() {
                    return Err("msgmenu.list needs at least one choice".to_owned());
                }
                for (i, item) in m.list.iter().enumerate() {
                    need(&format!("msgmenu.list[{i}].id"), &item.id)?;
                    need(&format!("msgmenu.list[{i}].content"), &item.content)?;
                }
                Ok(())
            }
            CustomBody::WxCard { card_id } => need("wxcard.card_id", card_id),
            CustomBody::MiniProgramPage(p) => need("miniprogrampage.appid", &p.appid)
                .and(need("miniprogrampage.pagepath", &p.pagepath))
                .and(need("miniprogrampage.thumb_media_id", &p.thumb_media_id)),
        }
    }
}

/// The typing indicator command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    /// `Typing`: shows "对方正在输入…" (about 15 s).
    Typing,
    /// `CancelTyping`.
    CancelTyping,
}

impl Client {
    /// `POST message/custom/send`. Never repeated on `-1` (a message is never sent twice).
    ///
    /// # Errors
    /// [`ApiError::Validation`]; the platform's error, e.g. 45015 (outside the 48-hour window),
    /// 45047 (window quota spent), 43004 (not following), 48001 (no permission).
    pub async fn send_custom(&self, msg: &CustomMessage) -> Result<(), ApiError> {
        msg.validate().map_err(ApiError::Validation)?;
        let req = Req::post("/cgi-bin/message/custom/send", msg)?;
        self.inner.call(&req, decode_ok).await
    }

    /// `POST message/custom/typing`: show or hide the typing indicator. Safe to repeat.
    ///
    /// # Errors
    /// The platform's error (45015 outside the window).
    pub async fn custom_typing(&self, touser: &str, command: Typing) -> Result<(), ApiError> {
        let command = match command {
            Typing::Typing => "Typing",
            Typing::CancelTyping => "CancelTyping",
        };
        let req = Req::post(
            "/cgi-bin/message/custom/typing",
            &serde_json::json!({ "touser": touser, "command": command }),
        )?
        .safe();
        self.inner.call(&req, decode_ok).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(m: &CustomMessage) -> serde_json::Value {
        serde_json::to_value(m).unwrap()
    }

    #[test]
    fn every_type_matches_the_documented_json() {
        assert_eq!(
            j(&CustomMessage::text("O", "Hello World")),
            json!({"touser":"O","msgtype":"text","text":{"content":"Hello World"}})
        );
        assert_eq!(
            j(&CustomMessage::image("O", "M")),
            json!({"touser":"O","msgtype":"image","image":{"media_id":"M"}})
        );
        assert_eq!(
            j(&CustomMessage::voice("O", "M")),
            json!({"touser":"O","msgtype":"voice","voice":{"media_id":"M"}})
        );
        let video = CustomBody::Video(Video {
            media_id: "M".into(),
            thumb_media_id: "T".into(),
            title: Some("TI".into()),
            description: Some("D".into()),
        });
        assert_eq!(
            j(&CustomMessage::new("O", video)),
            json!({"touser":"O","msgtype":"video","video":{"media_id":"M","thumb_media_id":"T","title":"TI","description":"D"}})
        );
        let music = CustomBody::Music(Music {
            title: Some("T".into()),
            description: Some("D".into()),
            musicurl: "U".into(),
            hqmusicurl: "H".into(),
            thumb_media_id: "TM".into(),
        });
        assert_eq!(
            j(&CustomMessage::new("O", music)),
            json!({"touser":"O","msgtype":"music","music":{"title":"T","description":"D","musicurl":"U","hqmusicurl":"H","thumb_media_id":"TM"}})
        );
        let news = CustomMessage::news(
            "O",
            vec![NewsArticle {
                title: "T".into(),
                description: Some("D".into()),
                url: "U".into(),
                picurl: Some("P".into()),
            }],
        );
        assert_eq!(
            j(&news),
            json!({"touser":"O","msgtype":"news","news":{"articles":[{"title":"T","description":"D","url":"U","picurl":"P"}]}})
        );
        assert_eq!(
            j(&CustomMessage::new(
                "O",
                CustomBody::MpNews {
                    media_id: "M".into()
                }
            )),
            json!({"touser":"O","msgtype":"mpnews","mpnews":{"media_id":"M"}})
        );
        let menu = CustomBody::MsgMenu(MsgMenu {
            head_content: "您对本次服务是否满意呢? ".into(),
            list: vec![
                MsgMenuItem {
                    id: "101".into(),
                    content: "满意".into(),
                },
                MsgMenuItem {
                    id: "102".into(),
                    content: "不满意".into(),
                },
            ],
            tail_content: "欢迎再次光临".into(),
        });
        assert_eq!(
            j(&CustomMessage::new("O", menu)),
            json!({"touser":"O","msgtype":"msgmenu","msgmenu":{"head_content":"您对本次服务是否满意呢? ","list":[{"id":"101","content":"满意"},{"id":"102","content":"不满意"}],"tail_content":"欢迎再次光临"}})
        );
        let page = CustomBody::MiniProgramPage(MiniProgramPage {
            title: "T".into(),
            appid: "A".into(),
            pagepath: "P".into(),
            thumb_media_id: "M".into(),
        });
        assert_eq!(
            j(&CustomMessage::new("O", page)),
            json!({"touser":"O","msgtype":"miniprogrampage","miniprogrampage":{"title":"T","appid":"A","pagepath":"P","thumb_media_id":"M"}})
        );
        assert_eq!(
            j(&CustomMessage::new(
                "O",
                CustomBody::MpNewsArticle {
                    article_id: "A".into()
                }
            )),
            json!({"touser":"O","msgtype":"mpnewsarticle","mpnewsarticle":{"article_id":"A"}})
        );
        assert_eq!(
            j(&CustomMessage::new(
                "O",
                CustomBody::WxCard {
                    card_id: "C".into()
                }
            )),
            json!({"touser":"O","msgtype":"wxcard","wxcard":{"card_id":"C"}})
        );
    }

    #[test]
    fn kf_account_is_sent_as_customservice() {
        let m = CustomMessage::text("O", "hi").with_kf_account("test1@kftest");
        assert_eq!(j(&m)["customservice"], json!({"kf_account":"test1@kftest"}));
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(
            CustomMessage::text("", "x").validate().unwrap_err(),
            "touser is required"
        );
        assert_eq!(
            CustomMessage::text("O", " ").validate().unwrap_err(),
            "text.content is required"
        );
        assert!(
            CustomMessage::news("O", vec![])
                .validate()
                .unwrap_err()
                .contains("1 to 8 articles")
        );
        let m = CustomMessage::new("O", CustomBody::MsgMenu(MsgMenu::default()));
        assert!(m.validate().unwrap_err().contains("msgmenu.list"));
        CustomMessage::text("O", "ok").validate().unwrap();
    }
}
