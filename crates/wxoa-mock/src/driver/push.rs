//! What to push: the serde description of one message or event a follower sends.
//!
//! A [`Push`] is what a tool asks for (`POST /mock/push`, `wxoa sim`); the driver fills in what
//! the platform decides (MsgId, CreateTime, generated media ids) and renders the platform's XML
//! (the private `build` module).
//!
//! # JSON shape
//!
//! One flat object: optional settings plus exactly one *content* key.
//!
//! | key | meaning |
//! |---|---|
//! | `mode` | `"plain"`, `"compat"` or `"safe"`; absent = `safe` when the driver has an EncodingAESKey, else `plain` |
//! | `from` | the follower's openid; absent = the driver's default follower |
//! | `msg_id` | force the `MsgId` of a message or the `MsgID` of a job event, a string such as `"6054768590064713728"` (a number is accepted); absent = a fresh unique id |
//! | `create_time` | force `CreateTime` (Unix seconds); absent = now |
//!
//! Messages (externally tagged; every field of the object may be left out and gets a generated
//! value):
//!
//! ```json
//! {"text": "你好"}
//! {"menu_choice": {"id": 101, "content": "满意"}}
//! {"image": {"pic_url": "http://…", "media_id": "…"}}
//! {"voice": {"media_id": "…", "format": "amr", "recognition": "你好", "media_id_16k": "…"}}
//! {"video": {"media_id": "…", "thumb_media_id": "…"}}
//! {"shortvideo": {"media_id": "…", "thumb_media_id": "…"}}
//! {"location": {"latitude": 23.13, "longitude": 113.26, "scale": 15, "label": "广州"}}
//! {"link": {"title": "…", "description": "…", "url": "https://…"}}
//! ```
//!
//! Events (`"event"` is the platform's `Event` name; lower-case aliases of the upper-case names
//! are accepted):
//!
//! ```json
//! {"event": "subscribe"}                              // plain follow
//! {"event": "subscribe", "scene": "123"}              // follow via QR code: EventKey qrscene_123 + Ticket
//! {"event": "unsubscribe"}
//! {"event": "SCAN", "scene": "123", "ticket": "…"}
//! {"event": "LOCATION", "latitude": 23.13, "longitude": 113.26, "precision": 65.0}
//! {"event": "CLICK", "key": "MENU_HELP"}
//! {"event": "VIEW", "url": "https://…", "menu_id": "123"}
//! {"event": "view_miniprogram", "page_path": "pages/index", "menu_id": "123"}
//! {"event": "scancode_push", "key": "SCAN_1", "scan_type": "qrcode", "scan_result": "…"}
//! {"event": "scancode_waitmsg", "key": "SCAN_1", "scan_result": "…"}
//! {"event": "pic_sysphoto", "key": "PIC", "pics": ["md5…"]}   // also pic_photo_or_album, pic_weixin
//! {"event": "location_select", "key": "LOC", "latitude": 23.13, "longitude": 113.26, "label": "…", "poiname": "…"}
//! {"event": "TEMPLATESENDJOBFINISH", "msg_id": "200163836", "status": "success"}
//! {"event": "MASSSENDJOBFINISH", "msg_id": "1000001625", "status": "send success", "total_count": 100, …}
//! {"event": "kf_create_session", "kf_account": "test1@test"}  // also kf_close_session
//! {"event": "kf_switch_session", "from_kf_account": "a@test", "to_kf_account": "b@test"}
//! {"event": "subscribe_msg_popup_event", "items": [{"template_id": "…", "status": "accept", "popup_scene": 2}]}
//! ```
//!
//! Any other event name is pushed as is, with the remaining keys as XML fields under their own
//! names (strings in CDATA, numbers bare, objects nested, arrays repeated):
//! `{"event": "annual_renew", "ExpiredTime": 1700000000}`. Likewise a message of any other type:
//! `{"msg_type": "miniprogrampage", "Title": "…", "AppId": "…"}` (a `MsgId` is added).

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The encryption mode of a push (the account's 消息加解密方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// 明文模式: the message XML as is, `signature` only.
    Plain,
    /// 兼容模式: the plaintext fields and `<Encrypt>` side by side, `encrypt_type=aes` and
    /// `msg_signature` added; the reply may be plaintext or encrypted.
    Compat,
    /// 安全模式: an envelope with `ToUserName` and `Encrypt` only; the reply must be encrypted.
    Safe,
}

impl Mode {
    /// `plain`, `compat` or `safe`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Compat => "compat",
            Mode::Safe => "safe",
        }
    }

    /// Whether the push carries `<Encrypt>` (and the reply may or must be encrypted).
    #[must_use]
    pub fn is_encrypted(self) -> bool {
        !matches!(self, Mode::Plain)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plain" | "明文" => Ok(Mode::Plain),
            "compat" | "compatible" | "兼容" => Ok(Mode::Compat),
            "safe" | "secure" | "安全" => Ok(Mode::Safe),
            _ => Err(UnknownMode(s.to_owned())),
        }
    }
}

/// A mode name that is not `plain`, `compat` or `safe`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mode {0:?}: use plain, compat or safe")]
pub struct UnknownMode(pub String);

/// One push: settings and what the follower sends. See the [module docs](self) for the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// Encryption mode; `None` = safe when the driver has an EncodingAESKey, else plain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The follower's openid; `None` = the driver's default follower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Force the `MsgId` of a message or the `MsgID` of a job event (ignored for other events);
    /// `None` = a fresh unique id. A string
    /// in JSON (MsgIds exceed 2^53); a number is accepted too.
    #[serde(
        default,
        with = "opt_u64_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<u64>,
    /// Force `CreateTime` (Unix seconds); `None` = the driver's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<i64>,
    /// What is sent.
    #[serde(flatten)]
    pub what: What,
}

impl Push {
    /// A push of `what` with every setting left to the driver.
    #[must_use]
    pub fn new(what: impl Into<What>) -> Self {
        Self {
            mode: None,
            from: None,
            msg_id: None,
            create_time: None,
            what: what.into(),
        }
    }

    /// A text message.
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self::new(Message::Text(content.into()))
    }

    /// An event.
    #[must_use]
    pub fn event(event: Event) -> Self {
        Self::new(event)
    }

    /// The same push in `mode`.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// The same push sent by `openid`.
    #[must_use]
    pub fn from(mut self, openid: impl Into<String>) -> Self {
        self.from = Some(openid.into());
        self
    }

    /// The same push with a fixed `MsgId`.
    #[must_use]
    pub fn msg_id(mut self, msg_id: u64) -> Self {
        self.msg_id = Some(msg_id);
        self
    }

    /// The same push with a fixed `CreateTime`.
    #[must_use]
    pub fn create_time(mut self, create_time: i64) -> Self {
        self.create_time = Some(create_time);
        self
    }
}

/// What the follower sends: a message, a known event, or any other event / message type.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// An ordinary message (`MsgType` ≠ `event`).
    Message(Message),
    /// An event with typed fields.
    Event(Event),
    /// Any other event name, fields given as JSON.
    OtherEvent(OtherEvent),
    /// Any other message type, fields given as JSON.
    OtherMessage(OtherMessage),
}

impl From<Message> for What {
    fn from(m: Message) -> Self {
        What::Message(m)
    }
}

impl From<Event> for What {
    fn from(e: Event) -> Self {
        What::Event(e)
    }
}

impl From<OtherEvent> for What {
    fn from(e: OtherEvent) -> Self {
        What::OtherEvent(e)
    }
}

impl From<OtherMessage> for What {
    fn from(m: OtherMessage) -> Self {
        What::OtherMessage(m)
    }
}

impl Serialize for What {
    fn serialize<S>(&self, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
    {
        match self {
            What::Message(m) => m.serialize(serializer),
            What::Event(e) => e.serialize(serializer),
            What::OtherEvent(e) => e.serialize(serializer),
            What::OtherMessage(m) => m.serialize(serializer),
        }
    }
}

/// The content keys a push may carry, for error messages.
const CONTENT_KEYS: &str =
    "text, menu_choice, image, voice, video, shortvideo, location, link, event or msg_type";

impl<'de> Deserialize<'de> for What {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        let value = serde_json::Value::deserialize(deserializer)?;
        let serde_json::Value::Object(map) = &value else {
            return Err(D::Error::custom("a push must be a JSON object"));
        };
        if let Some(name) = map.get("event") {
            let Some(name) = name.as_str().map(str::to_owned) else {
                return Err(D::Error::custom(
                    "\"event\" must be a string such as \"CLICK\"",
                ));
            };
            if Event::is_known(&name) {
                return Event::deserialize(value)
                    .map(What::Event)
                    .map_err(|e| D::Error::custom(format!("event {name}: {e}")));
            }
            return OtherEvent::deserialize(value)
                .map(What::OtherEvent)
                .map_err(|e| D::Error::custom(format!("event {name}: {e}")));
        }
        if map.contains_key("msg_type") {
            return OtherMessage::deserialize(value)
                .map(What::OtherMessage)
                .map_err(D::Error::custom);
        }
        match map.len() {
            0 => Err(D::Error::custom(format!(
                "a push needs one of {CONTENT_KEYS}"
            ))),
            1 => Message::deserialize(value)
                .map(What::Message)
                .map_err(D::Error::custom),
            _ => {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                Err(D::Error::custom(format!(
                    "a push carries exactly one of {CONTENT_KEYS}; got {}",
                    keys.join(", ")
                )))
            }
        }
    }
}

/// An ordinary message. Empty fields get generated values (media ids, links, titles).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// `text` with `Content`.
    Text(String),
    /// `text` sent by tapping an option of a `msgmenu` customer-service message: `Content` and
    /// `bizmsgmenuid`.
    MenuChoice(MenuChoice),
    /// `image`.
    Image(ImageSpec),
    /// `voice`.
    Voice(VoiceSpec),
    /// `video`.
    Video(VideoSpec),
    /// `shortvideo`.
    #[serde(rename = "shortvideo", alias = "short_video")]
    ShortVideo(VideoSpec),
    /// `location` (a location shared in the chat).
    Location(LocationSpec),
    /// `link` (a link shared from favourites).
    Link(LinkSpec),
}

/// A tapped `msgmenu` option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuChoice {
    /// `bizmsgmenuid`: the option's `id`.
    pub id: i64,
    /// `Content`: the option's text.
    pub content: String,
}

/// Fields of an `image` message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageSpec {
    /// `PicUrl`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pic_url: Option<String>,
    /// `MediaId`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
}

/// Fields of a `voice` message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceSpec {
    /// `MediaId`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// `Format`; `amr` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `Recognition` (speech recognition result); omitted when absent, as with recognition off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recognition: Option<String>,
    /// `MediaId16K`; omitted when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id_16k: Option<String>,
}

/// Fields of a `video` or `shortvideo` message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VideoSpec {
    /// `MediaId`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// `ThumbMediaId`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumb_media_id: Option<String>,
}

/// Fields of a `location` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSpec {
    /// `Location_X`: latitude.
    pub latitude: f64,
    /// `Location_Y`: longitude.
    pub longitude: f64,
    /// `Scale`: map zoom; 15 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// `Label`: the place's name; empty when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Fields of a `link` message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkSpec {
    /// `Title`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Description`; empty when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `Url`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An event with typed fields, tagged by the platform's `Event` name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", deny_unknown_fields)]
pub enum Event {
    /// `subscribe`: a follow; with `scene`, a follow via a parametric QR code
    /// (`EventKey` = `qrscene_` + scene, plus `Ticket`).
    #[serde(rename = "subscribe")]
    Subscribe {
        /// The QR code's scene (`scene_id` or `scene_str`), without the `qrscene_` prefix.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scene: Option<String>,
        /// `Ticket`; generated when a scene is given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<String>,
    },
    /// `unsubscribe`: an unfollow (WeChat shows no reply).
    #[serde(rename = "unsubscribe")]
    Unsubscribe,
    /// `SCAN`: a follower scanned a parametric QR code.
    #[serde(rename = "SCAN", alias = "scan")]
    Scan {
        /// `EventKey`: the scene, without prefix.
        scene: String,
        /// `Ticket`; generated when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<String>,
    },
    /// `LOCATION`: the periodic location report.
    #[serde(rename = "LOCATION", alias = "location")]
    Location {
        /// `Latitude`.
        latitude: f64,
        /// `Longitude`.
        longitude: f64,
        /// `Precision`; 65.0 when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        precision: Option<f64>,
    },
    /// `CLICK`: a `click` menu button.
    #[serde(rename = "CLICK", alias = "click")]
    Click {
        /// `EventKey`: the button's `key`.
        key: String,
    },
    /// `VIEW`: a `view` menu button (a link).
    #[serde(rename = "VIEW", alias = "view")]
    View {
        /// `EventKey`: the URL.
        url: String,
        /// `MenuId`: the conditional menu's id; omitted when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        menu_id: Option<String>,
    },
    /// `view_miniprogram`: a menu button opening a Mini Program page.
    #[serde(rename = "view_miniprogram")]
    ViewMiniProgram {
        /// `EventKey`: the page path.
        page_path: String,
        /// `MenuId`; omitted when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        menu_id: Option<String>,
    },
    /// `scancode_push`: a scan button; the result goes to the account and the scanner acts.
    #[serde(rename = "scancode_push")]
    ScancodePush(Scancode),
    /// `scancode_waitmsg`: a scan button; the follower sees 消息接收中 and waits for a reply.
    #[serde(rename = "scancode_waitmsg")]
    ScancodeWaitmsg(Scancode),
    /// `pic_sysphoto`: the camera button.
    #[serde(rename = "pic_sysphoto")]
    PicSysphoto(Pics),
    /// `pic_photo_or_album`: the camera-or-album button.
    #[serde(rename = "pic_photo_or_album")]
    PicPhotoOrAlbum(Pics),
    /// `pic_weixin`: the WeChat album button.
    #[serde(rename = "pic_weixin")]
    PicWeixin(Pics),
    /// `location_select`: the location-picker button.
    #[serde(rename = "location_select")]
    LocationSelect {
        /// `EventKey`: the button's `key`.
        key: String,
        /// `SendLocationInfo/Location_X`.
        latitude: f64,
        /// `SendLocationInfo/Location_Y`.
        longitude: f64,
        /// `Scale`; 15 when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<u32>,
        /// `Label`; empty when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        /// `Poiname`; empty CDATA when absent (as the platform sends it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        poiname: Option<String>,
    },
    /// `TEMPLATESENDJOBFINISH`: the outcome of a template message; its `MsgID` is the push's
    /// `msg_id` (generated when absent).
    #[serde(rename = "TEMPLATESENDJOBFINISH", alias = "templatesendjobfinish")]
    TemplateSendJobFinish {
        /// `Status`; `success` when absent (`failed:user block`, `failed: system failed`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
    },
    /// `MASSSENDJOBFINISH`: the outcome of a mass send; its `MsgID` is the push's `msg_id`
    /// (generated when absent).
    #[serde(rename = "MASSSENDJOBFINISH", alias = "masssendjobfinish")]
    MassSendJobFinish {
        /// `Status`; `send success` when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        /// `TotalCount`; 1 when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total_count: Option<u64>,
        /// `FilterCount`; the total when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter_count: Option<u64>,
        /// `SentCount`; the filtered count when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent_count: Option<u64>,
        /// `ErrorCount`; 0 when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_count: Option<u64>,
    },
    /// `kf_create_session`: an agent took the conversation.
    #[serde(rename = "kf_create_session")]
    KfCreateSession {
        /// `KfAccount`.
        kf_account: String,
    },
    /// `kf_close_session`: an agent closed the conversation.
    #[serde(rename = "kf_close_session")]
    KfCloseSession {
        /// `KfAccount`.
        kf_account: String,
    },
    /// `kf_switch_session`: the conversation moved to another agent.
    #[serde(rename = "kf_switch_session")]
    KfSwitchSession {
        /// `FromKfAccount`.
        from_kf_account: String,
        /// `ToKfAccount`.
        to_kf_account: String,
    },
    /// `subscribe_msg_popup_event`: the follower answered a subscription-message popup.
    #[serde(rename = "subscribe_msg_popup_event")]
    SubscribeMsgPopup {
        /// One `<List>` per template.
        items: Vec<SubscribeItem>,
    },
    /// `subscribe_msg_change_event`: the follower changed a subscription in the settings.
    #[serde(rename = "subscribe_msg_change_event")]
    SubscribeMsgChange {
        /// One `<List>` per template.
        items: Vec<SubscribeItem>,
    },
    /// `subscribe_msg_sent_event`: the outcome of a subscription message.
    #[serde(rename = "subscribe_msg_sent_event")]
    SubscribeMsgSent {
        /// One `<List>` per message.
        items: Vec<SubscribeItem>,
    },
}

/// Fields of `scancode_push` / `scancode_waitmsg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scancode {
    /// `EventKey`: the button's `key`.
    pub key: String,
    /// `ScanCodeInfo/ScanType`: `qrcode` (default) or `barcode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_type: Option<String>,
    /// `ScanCodeInfo/ScanResult`: what was scanned.
    #[serde(default)]
    pub scan_result: String,
}

/// Fields of the `pic_*` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pics {
    /// `EventKey`: the button's `key`.
    pub key: String,
    /// `PicMd5Sum` of each picture; one generated checksum when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pics: Vec<String>,
}

/// One `<List>` of the subscription-message events; each event writes the fields it has.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscribeItem {
    /// `TemplateId`.
    pub template_id: String,
    /// `SubscribeStatusString` (`accept` / `reject`; popup and change events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `PopupScene` (popup event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub popup_scene: Option<i64>,
    /// `MsgID` (sent event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<u64>,
    /// `ErrorCode` (sent event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    /// `ErrorStatus` (sent event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_status: Option<String>,
}

/// Every `event` value that selects a typed [`Event`] (names and aliases).
const KNOWN_EVENTS: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "SCAN",
    "scan",
    "LOCATION",
    "location",
    "CLICK",
    "click",
    "VIEW",
    "view",
    "view_miniprogram",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "TEMPLATESENDJOBFINISH",
    "templatesendjobfinish",
    "MASSSENDJOBFINISH",
    "masssendjobfinish",
    "kf_create_session",
    "kf_close_session",
    "kf_switch_session",
    "subscribe_msg_popup_event",
    "subscribe_msg_change_event",
    "subscribe_msg_sent_event",
];

impl Event {
    /// Whether `name` selects a typed event (otherwise it is pushed as an [`OtherEvent`]).
    #[must_use]
    pub fn is_known(name: &str) -> bool {
        KNOWN_EVENTS.contains(&name)
    }

    /// The `Event` field as the platform writes it.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Event::Subscribe { .. } => "subscribe",
            Event::Unsubscribe => "unsubscribe",
            Event::Scan { .. } => "SCAN",
            Event::Location { .. } => "LOCATION",
            Event::Click { .. } => "CLICK",
            Event::View { .. } => "VIEW",
            Event::ViewMiniProgram { .. } => "view_miniprogram",
            Event::ScancodePush(_) => "scancode_push",
            Event::ScancodeWaitmsg(_) => "scancode_waitmsg",
            Event::PicSysphoto(_) => "pic_sysphoto",
            Event::PicPhotoOrAlbum(_) => "pic_photo_or_album",
            Event::PicWeixin(_) => "pic_weixin",
            Event::LocationSelect { .. } => "location_select",
            Event::TemplateSendJobFinish { .. } => "TEMPLATESENDJOBFINISH",
            Event::MassSendJobFinish { .. } => "MASSSENDJOBFINISH",
            Event::KfCreateSession { .. } => "kf_create_session",
            Event::KfCloseSession { .. } => "kf_close_session",
            Event::KfSwitchSession { .. } => "kf_switch_session",
            Event::SubscribeMsgPopup { .. } => "subscribe_msg_popup_event",
            Event::SubscribeMsgChange { .. } => "subscribe_msg_change_event",
            Event::SubscribeMsgSent { .. } => "subscribe_msg_sent_event",
        }
    }

    /// A plain follow.
    #[must_use]
    pub fn subscribe() -> Self {
        Event::Subscribe {
            scene: None,
            ticket: None,
        }
    }

    /// A follow via a parametric QR code with `scene`.
    #[must_use]
    pub fn subscribe_scene(scene: impl Into<String>) -> Self {
        Event::Subscribe {
            scene: Some(scene.into()),
            ticket: None,
        }
    }

    /// A menu click on the button with `key`.
    #[must_use]
    pub fn click(key: impl Into<String>) -> Self {
        Event::Click { key: key.into() }
    }

    /// A menu link to `url`.
    #[must_use]
    pub fn view(url: impl Into<String>) -> Self {
        Event::View {
            url: url.into(),
            menu_id: None,
        }
    }

    /// An existing follower scanning a QR code with `scene`.
    #[must_use]
    pub fn scan(scene: impl Into<String>) -> Self {
        Event::Scan {
            scene: scene.into(),
            ticket: None,
        }
    }
}

/// An event the driver has no typed fields for: `Event` = `event`, every other key a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherEvent {
    /// The `Event` name, as sent.
    pub event: String,
    /// Further top-level fields by XML name: strings in CDATA, numbers and booleans bare,
    /// objects nested, arrays as repeated elements.
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// A message of a type the driver has no builder for: `MsgType` = `msg_type`, a fresh `MsgId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherMessage {
    /// The `MsgType`, as sent.
    pub msg_type: String,
    /// Further top-level fields by XML name, as in [`OtherEvent::fields`].
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// `Option<u64>` as a JSON string (MsgIds exceed what a JSON double holds exactly); a number is
/// accepted on input too.
pub(crate) mod opt_u64_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
    {
        match value {
            Some(v) => serializer.serialize_str(&v.to_string()),
            None => serializer.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        Text(String),
    }

    pub(crate) fn deserialize<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
    where
        D: Deserializer<'de>,
    {
        match Option::<Either>::deserialize(deserializer)? {
            None => Ok(None),
            Some(Either::Number(n)) => Ok(Some(n)),
            Some(Either::Text(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a MsgId"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Push {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn brief_examples_parse() {
        let p = parse(r#"{"mode":"safe","from":"oUser","text":"hi"}"#);
        assert_eq!(p.mode, Some(Mode::Safe));
        assert_eq!(p.from.as_deref(), Some("oUser"));
        assert_eq!(p.what, What::Message(Message::Text("hi".to_owned())));
        let p = parse(r#"{"event":"CLICK","key":"MENU_HELP"}"#);
        assert_eq!(p.mode, None);
        assert_eq!(p.what, What::Event(Event::click("MENU_HELP")));
    }

    #[test]
    fn every_shape_round_trips() {
        let cases = [
            r#"{"text":"你好"}"#,
            r#"{"mode":"compat","menu_choice":{"id":101,"content":"满意"}}"#,
            r#"{"image":{}}"#,
            r#"{"image":{"pic_url":"http://x/p.jpg","media_id":"m1"}}"#,
            r#"{"voice":{"recognition":"你好"}}"#,
            r#"{"video":{"media_id":"v"}}"#,
            r#"{"shortvideo":{}}"#,
            r#"{"location":{"latitude":23.13,"longitude":113.26,"scale":15,"label":"广州"}}"#,
            r#"{"link":{"url":"https://example.com"}}"#,
            r#"{"event":"subscribe"}"#,
            r#"{"event":"subscribe","scene":"123"}"#,
            r#"{"event":"unsubscribe"}"#,
            r#"{"event":"SCAN","scene":"abc","ticket":"t"}"#,
            r#"{"event":"LOCATION","latitude":1.5,"longitude":2.5}"#,
            r#"{"event":"VIEW","url":"https://example.com","menu_id":"7"}"#,
            r#"{"event":"view_miniprogram","page_path":"pages/a"}"#,
            r#"{"event":"scancode_waitmsg","key":"S","scan_result":"r"}"#,
            r#"{"event":"pic_weixin","key":"P","pics":["a","b"]}"#,
            r#"{"event":"location_select","key":"L","latitude":1.0,"longitude":2.0,"poiname":"p"}"#,
            r#"{"event":"TEMPLATESENDJOBFINISH","msg_id":"6054768590064713728","status":"failed:user block"}"#,
            r#"{"event":"MASSSENDJOBFINISH","total_count":3}"#,
            r#"{"event":"kf_switch_session","from_kf_account":"a@t","to_kf_account":"b@t"}"#,
            r#"{"event":"subscribe_msg_popup_event","items":[{"template_id":"T","status":"accept","popup_scene":2}]}"#,
            r#"{"event":"annual_renew","ExpiredTime":1700000000}"#,
            r#"{"msg_type":"miniprogrampage","Title":"t","AppId":"wx1"}"#,
            r#"{"msg_id":"6054768590064713728","create_time":1700000000,"from":"oA","text":"x"}"#,
        ];
        for json in cases {
            let push = parse(json);
            let back = serde_json::to_string(&push).unwrap();
            assert_eq!(parse(&back), push, "{json} -> {back}");
            let want: serde_json::Value = serde_json::from_str(json).unwrap();
            let got: serde_json::Value = serde_json::from_str(&back).unwrap();
            assert_eq!(got, want, "serialization keeps the documented shape");
        }
    }

    #[test]
    fn msg_id_is_a_string_or_a_number() {
        assert_eq!(parse(r#"{"msg_id":42,"text":"x"}"#).msg_id, Some(42));
        assert_eq!(
            parse(r#"{"msg_id":"6054768590064713728","text":"x"}"#).msg_id,
            Some(6_054_768_590_064_713_728)
        );
        let err = serde_json::from_str::<Push>(r#"{"msg_id":"x1","text":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("not a MsgId"), "{err}");
    }

    #[test]
    fn lower_case_aliases_select_typed_events() {
        assert_eq!(
            parse(r#"{"event":"click","key":"K"}"#).what,
            What::Event(Event::click("K"))
        );
        assert_eq!(
            parse(r#"{"event":"scan","scene":"1"}"#).what,
            What::Event(Event::scan("1"))
        );
    }

    #[test]
    fn mistakes_get_specific_errors() {
        let err = |json: &str| serde_json::from_str::<Push>(json).unwrap_err().to_string();
        assert!(err("{}").contains("needs one of"), "{}", err("{}"));
        assert!(err(r#"{"txt":"x"}"#).contains("unknown variant `txt`"));
        assert!(err(r#"{"text":"x","image":{}}"#).contains("exactly one of"));
        let e = err(r#"{"event":"CLICK","kye":"x"}"#);
        assert!(e.contains("event CLICK") && e.contains("key"), "{e}");
        assert!(err(r#"{"event":5}"#).contains("must be a string"));
        assert!(err(r#"{"mode":"secret","text":"x"}"#).contains("unknown variant"));
    }

    #[test]
    fn modes_parse_from_names() {
        assert_eq!("SAFE".parse::<Mode>(), Ok(Mode::Safe));
        assert_eq!("兼容".parse::<Mode>(), Ok(Mode::Compat));
        assert_eq!("plain".parse::<Mode>(), Ok(Mode::Plain));
        assert!(
            "aes"
                .parse::<Mode>()
                .unwrap_err()
                .to_string()
                .contains("plain, compat or safe")
        );
        assert!(Mode::Compat.is_encrypted() && !Mode::Plain.is_encrypted());
    }
}
