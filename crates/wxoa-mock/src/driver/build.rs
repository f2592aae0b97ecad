//! The platform's bytes for one push: the message XML, the mode's body, the signed query string.
//!
//! The XML is written the way the platform writes it (PROTOCOL.md §5, §6): one field a line,
//! strings in CDATA, numbers bare, `MsgId` last on messages. Text is passed through as the
//! follower typed it, control characters included (the platform does not strip them).

use std::fmt::Write as _;

use serde_json::Value;
use url::Url;
use wxoa_proto::crypto::MsgCrypt;
use wxoa_proto::signature::sign;

use super::DriverError;
use super::push::{Event, Message, Mode, OtherEvent, OtherMessage, SubscribeItem, What};

/// Fields the driver writes itself and a free-form push may not set.
const HEADER_FIELDS: &[&str] = &[
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Event",
    "MsgId",
    "Encrypt",
];

/// What the builder needs besides the push.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The account's `gh_` id (`ToUserName`).
    pub(crate) account_id: &'a str,
    /// The follower (`FromUserName`).
    pub(crate) openid: &'a str,
    /// `CreateTime`.
    pub(crate) create_time: i64,
    /// A fresh unique number: the `MsgId` of a message, the seed of generated ids.
    pub(crate) serial: u64,
    /// A forced `MsgId` for messages.
    pub(crate) msg_id: Option<u64>,
}

/// One message or event rendered as the platform's plaintext XML.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Built {
    /// The XML document.
    pub(crate) xml: String,
    /// `MsgType`.
    pub(crate) msg_type: String,
    /// `MsgId` (messages) or `MsgID` (job events).
    pub(crate) msg_id: Option<u64>,
    /// `Event`, for events.
    pub(crate) event: Option<String>,
    /// `EventKey`, for events that have one (empty on a plain subscribe).
    pub(crate) event_key: Option<String>,
    /// Whether WeChat shows the follower a reply to this push: not after `unsubscribe`.
    pub(crate) reply_shown: bool,
    /// Whether the push is a message the follower typed or sent (a news reply then shows only
    /// its first article).
    pub(crate) user_message: bool,
}

/// Render `what` as the platform's XML.
pub(crate) fn message_xml(what: &What, ctx: &Context<'_>) -> Result<Built, DriverError> {
    let mut w = XmlOut::new();
    w.cdata("ToUserName", ctx.account_id);
    w.cdata("FromUserName", ctx.openid);
    w.number("CreateTime", ctx.create_time);
    let built = match what {
        What::Message(m) => message(&mut w, m, ctx),
        What::Event(e) => event(&mut w, e, ctx),
        What::OtherEvent(e) => other_event(&mut w, e)?,
        What::OtherMessage(m) => other_message(&mut w, m, ctx)?,
    };
    Ok(Built {
        xml: w.finish(),
        ..built
    })
}

fn message(w: &mut XmlOut, m: &Message, ctx: &Context<'_>) -> Built {
    let msg_id = ctx.msg_id.unwrap_or(ctx.serial);
    let media = |given: &Option<String>, kind: &str| {
        given
            .clone()
            .unwrap_or_else(|| generated_media_id(kind, ctx.serial))
    };
    let msg_type = match m {
        Message::Text(_) | Message::MenuChoice(_) => "text",
        Message::Image(_) => "image",
        Message::Voice(_) => "voice",
        Message::Video(_) => "video",
        Message::ShortVideo(_) => "shortvideo",
        Message::Location(_) => "location",
        Message::Link(_) => "link",
    };
    w.cdata("MsgType", msg_type);
    match m {
        Message::Text(content) => w.cdata("Content", content),
        Message::MenuChoice(choice) => {
            w.cdata("Content", &choice.content);
            w.number("bizmsgmenuid", choice.id);
        }
        Message::Image(spec) => {
            let media_id = media(&spec.media_id, "image");
            let pic_url = spec
                .pic_url
                .clone()
                .unwrap_or_else(|| format!("http://mmbiz.qpic.cn/mmbiz_jpg/{media_id}/0"));
            w.cdata("PicUrl", &pic_url);
            w.cdata("MediaId", &media_id);
        }
        Message::Voice(spec) => {
            w.cdata("MediaId", &media(&spec.media_id, "voice"));
            w.cdata("Format", spec.format.as_deref().unwrap_or("amr"));
            if let Some(id) = &spec.media_id_16k {
                w.cdata("MediaId16K", id);
            }
            if let Some(text) = &spec.recognition {
                w.cdata("Recognition", text);
            }
        }
        Message::Video(spec) | Message::ShortVideo(spec) => {
            w.cdata("MediaId", &media(&spec.media_id, msg_type));
            w.cdata("ThumbMediaId", &media(&spec.thumb_media_id, "thumb"));
        }
        Message::Location(spec) => {
            w.float("Location_X", spec.latitude);
            w.float("Location_Y", spec.longitude);
            w.number("Scale", spec.scale.unwrap_or(15));
            w.cdata("Label", spec.label.as_deref().unwrap_or(""));
        }
        Message::Link(spec) => {
            w.cdata("Title", spec.title.as_deref().unwrap_or("分享的链接"));
            w.cdata("Description", spec.description.as_deref().unwrap_or(""));
            let url = spec
                .url
                .clone()
                .unwrap_or_else(|| format!("https://mp.weixin.qq.com/s/mock{}", ctx.serial));
            w.cdata("Url", &url);
        }
    }
    w.number("MsgId", msg_id);
    Built {
        xml: String::new(),
        msg_type: msg_type.to_owned(),
        msg_id: Some(msg_id),
        event: None,
        event_key: None,
        reply_shown: true,
        user_message: true,
    }
}

fn event(w: &mut XmlOut, e: &Event, ctx: &Context<'_>) -> Built {
    let name = e.name();
    w.cdata("MsgType", "event");
    w.cdata("Event", name);
    let ticket = |given: &Option<String>| {
        given
            .clone()
            .unwrap_or_else(|| format!("gQmockTicket{:x}", ctx.serial))
    };
    let mut msg_id = None;
    let event_key: Option<String> = match e {
        Event::Subscribe { scene, ticket: t } => match scene {
            Some(scene) => {
                let key = format!("qrscene_{scene}");
                w.cdata("EventKey", &key);
                w.cdata("Ticket", &ticket(t));
                Some(key)
            }
            None => {
                w.cdata("EventKey", "");
                Some(String::new())
            }
        },
        Event::Unsubscribe => {
            w.cdata("EventKey", "");
            Some(String::new())
        }
        Event::Scan { scene, ticket: t } => {
            w.cdata("EventKey", scene);
            w.cdata("Ticket", &ticket(t));
            Some(scene.clone())
        }
        Event::Location {
            latitude,
            longitude,
            precision,
        } => {
            w.float("Latitude", *latitude);
            w.float("Longitude", *longitude);
            w.float("Precision", precision.unwrap_or(65.0));
            None
        }
        Event::Click { key } => {
            w.cdata("EventKey", key);
            Some(key.clone())
        }
        Event::View { url, menu_id } => {
            w.cdata("EventKey", url);
            if let Some(id) = menu_id {
                w.cdata("MenuId", id);
            }
            Some(url.clone())
        }
        Event::ViewMiniProgram { page_path, menu_id } => {
            w.cdata("EventKey", page_path);
            if let Some(id) = menu_id {
                w.cdata("MenuId", id);
            }
            Some(page_path.clone())
        }
        Event::ScancodePush(s) | Event::ScancodeWaitmsg(s) => {
            w.cdata("EventKey", &s.key);
            w.open("ScanCodeInfo");
            w.cdata("ScanType", s.scan_type.as_deref().unwrap_or("qrcode"));
            w.cdata("ScanResult", &s.scan_result);
            w.close("ScanCodeInfo");
            Some(s.key.clone())
        }
        Event::PicSysphoto(p) | Event::PicPhotoOrAlbum(p) | Event::PicWeixin(p) => {
            w.cdata("EventKey", &p.key);
            let generated;
            let sums: &[String] = if p.pics.is_empty() {
                generated = [format!("{:032x}", u128::from(ctx.serial))];
                &generated
            } else {
                &p.pics
            };
            w.open("SendPicsInfo");
            w.number("Count", sums.len());
            w.open("PicList");
            for sum in sums {
                w.open("item");
                w.cdata("PicMd5Sum", sum);
                w.close("item");
            }
            w.close("PicList");
            w.close("SendPicsInfo");
            Some(p.key.clone())
        }
        Event::LocationSelect {
            key,
            latitude,
            longitude,
            scale,
            label,
            poiname,
        } => {
            w.cdata("EventKey", key);
            w.open("SendLocationInfo");
            w.float("Location_X", *latitude);
            w.float("Location_Y", *longitude);
            w.number("Scale", scale.unwrap_or(15));
            w.cdata("Label", label.as_deref().unwrap_or(""));
            w.cdata("Poiname", poiname.as_deref().unwrap_or(""));
            w.close("SendLocationInfo");
            Some(key.clone())
        }
        Event::TemplateSendJobFinish { status } => {
            let id = ctx.msg_id.unwrap_or(ctx.serial);
            msg_id = Some(id);
            w.number("MsgID", id);
            w.cdata("Status", status.as_deref().unwrap_or("success"));
            None
        }
        Event::MassSendJobFinish {
            status,
            total_count,
            filter_count,
            sent_count,
            error_count,
        } => {
            let id = ctx.msg_id.unwrap_or(ctx.serial);
            msg_id = Some(id);
            let total = total_count.unwrap_or(1);
            let filtered = filter_count.unwrap_or(total);
            w.number("MsgID", id);
            w.cdata("Status", status.as_deref().unwrap_or("send success"));
            w.number("TotalCount", total);
            w.number("FilterCount", filtered);
            w.number("SentCount", sent_count.unwrap_or(filtered));
            w.number("ErrorCount", error_count.unwrap_or(0));
            None
        }
        Event::KfCreateSession { kf_account } | Event::KfCloseSession { kf_account } => {
            w.cdata("KfAccount", kf_account);
            None
        }
        Event::KfSwitchSession {
            from_kf_account,
            to_kf_account,
        } => {
            w.cdata("FromKfAccount", from_kf_account);
            w.cdata("ToKfAccount", to_kf_account);
            None
        }
        Event::SubscribeMsgPopup { items } => {
            subscribe_items(w, "SubscribeMsgPopupEvent", items);
            None
        }
        Event::SubscribeMsgChange { items } => {
            subscribe_items(w, "SubscribeMsgChangeEvent", items);
            None
        }
        Event::SubscribeMsgSent { items } => {
            subscribe_items(w, "SubscribeMsgSentEvent", items);
            None
        }
    };
    Built {
        xml: String::new(),
        msg_type: "event".to_owned(),
        msg_id,
        event: Some(name.to_owned()),
        event_key,
        reply_shown: !matches!(e, Event::Unsubscribe),
        user_message: false,
    }
}

fn subscribe_items(w: &mut XmlOut, section: &str, items: &[SubscribeItem]) {
    w.open(section);
    for item in items {
        w.open("List");
        w.cdata("TemplateId", &item.template_id);
        if let Some(status) = &item.status {
            w.cdata("SubscribeStatusString", status);
        }
        if let Some(scene) = item.popup_scene {
            w.number("PopupScene", scene);
        }
        if let Some(id) = item.msg_id {
            w.number("MsgID", id);
        }
        if let Some(code) = item.error_code {
            w.number("ErrorCode", code);
        }
        if let Some(status) = &item.error_status {
            w.cdata("ErrorStatus", status);
        }
        w.close("List");
    }
    w.close(section);
}

fn other_event(w: &mut XmlOut, e: &OtherEvent) -> Result<Built, DriverError> {
    if !is_xml_name(&e.event) {
        return Err(DriverError::InvalidPush {
            reason: format!("event name {:?} is not a valid XML text value", e.event),
        });
    }
    w.cdata("MsgType", "event");
    w.cdata("Event", &e.event);
    fields(w, &e.fields)?;
    let event_key = e
        .fields
        .get("EventKey")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let msg_id = e.fields.get("MsgID").and_then(Value::as_u64);
    Ok(Built {
        xml: String::new(),
        msg_type: "event".to_owned(),
        msg_id,
        event: Some(e.event.clone()),
        event_key,
        reply_shown: true,
        user_message: false,
    })
}

fn other_message(
    w: &mut XmlOut,
    m: &OtherMessage,
    ctx: &Context<'_>,
) -> Result<Built, DriverError> {
    if !is_xml_name(&m.msg_type) {
        return Err(DriverError::InvalidPush {
            reason: format!("msg_type {:?} is not a valid MsgType", m.msg_type),
        });
    }
    let msg_id = ctx.msg_id.unwrap_or(ctx.serial);
    w.cdata("MsgType", &m.msg_type);
    fields(w, &m.fields)?;
    w.number("MsgId", msg_id);
    Ok(Built {
        xml: String::new(),
        msg_type: m.msg_type.clone(),
        msg_id: Some(msg_id),
        event: None,
        event_key: None,
        reply_shown: true,
        user_message: true,
    })
}

/// Write free-form fields: strings in CDATA, numbers and booleans bare, objects nested, arrays
/// repeated.
fn fields(
    w: &mut XmlOut,
    fields: &std::collections::BTreeMap<String, Value>,
) -> Result<(), DriverError> {
    for (name, value) in fields {
        if HEADER_FIELDS.contains(&name.as_str()) {
            return Err(DriverError::InvalidPush {
                reason: format!(
                    "{name} is written by the driver; set \"from\", \"create_time\" or \"msg_id\" instead"
                ),
            });
        }
        value_field(w, name, value, 0)?;
    }
    Ok(())
}

fn value_field(w: &mut XmlOut, name: &str, value: &Value, depth: usize) -> Result<(), DriverError> {
    const MAX_DEPTH: usize = 8;
    if !is_xml_name(name) {
        return Err(DriverError::InvalidPush {
            reason: format!("{name:?} is not a valid XML element name"),
        });
    }
    if depth > MAX_DEPTH {
        return Err(DriverError::InvalidPush {
            reason: format!("fields nest deeper than {MAX_DEPTH} levels at {name}"),
        });
    }
    match value {
        Value::String(s) => w.cdata(name, s),
        Value::Number(n) => w.raw(name, &n.to_string()),
        Value::Bool(b) => w.raw(name, if *b { "true" } else { "false" }),
        Value::Null => w.cdata(name, ""),
        Value::Array(items) => {
            for item in items {
                value_field(w, name, item, depth + 1)?;
            }
        }
        Value::Object(children) => {
            w.open(name);
            for (child, v) in children {
                value_field(w, child, v, depth + 1)?;
            }
            w.close(name);
        }
    }
    Ok(())
}

/// A conservative XML name: ASCII letter or `_` first, then letters, digits, `_`, `-`, `.`.
fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn generated_media_id(kind: &str, serial: u64) -> String {
    format!("mock_{kind}_{serial}")
}

/// The request body for `mode` and, when encrypted, the `Encrypt` value it carries.
pub(crate) fn body(
    mode: Mode,
    xml: &str,
    account_id: &str,
    crypt: Option<&MsgCrypt>,
) -> Result<(String, Option<String>), DriverError> {
    if !mode.is_encrypted() {
        return Ok((xml.to_owned(), None));
    }
    let crypt = crypt.ok_or(DriverError::EncryptionNeedsKey { mode })?;
    let encrypt = crypt.encrypt(xml.as_bytes());
    let body = match mode {
        Mode::Compat => {
            let open = xml.strip_suffix("</xml>").unwrap_or(xml);
            format!("{open}<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n</xml>")
        }
        Mode::Safe | Mode::Plain => {
            let mut w = XmlOut::new();
            w.cdata("ToUserName", account_id);
            w.cdata("Encrypt", &encrypt);
            w.finish()
        }
    };
    Ok((body, Some(encrypt)))
}

/// The push URL: `target` plus `signature`, `timestamp`, `nonce`, `openid` and, when encrypted,
/// `encrypt_type=aes` and `msg_signature`.
pub(crate) fn push_url(
    target: &Url,
    token: &str,
    timestamp: &str,
    nonce: &str,
    openid: &str,
    encrypt: Option<&str>,
) -> Url {
    let mut url = target.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("signature", &sign(&[token, timestamp, nonce]));
        q.append_pair("timestamp", timestamp);
        q.append_pair("nonce", nonce);
        q.append_pair("openid", openid);
        if let Some(encrypt) = encrypt {
            q.append_pair("encrypt_type", "aes");
            q.append_pair("msg_signature", &sign(&[token, timestamp, nonce, encrypt]));
        }
    }
    url
}

/// The URL-verification GET: `signature`, `timestamp`, `nonce`, `echostr` (always plain).
pub(crate) fn verify_url(
    target: &Url,
    token: &str,
    timestamp: &str,
    nonce: &str,
    echostr: &str,
) -> Url {
    let mut url = target.clone();
    url.query_pairs_mut()
        .append_pair("signature", &sign(&[token, timestamp, nonce]))
        .append_pair("timestamp", timestamp)
        .append_pair("nonce", nonce)
        .append_pair("echostr", echostr);
    url
}

/// The platform's XML writer: `<xml>`, one field a line, `</xml>`.
#[derive(Debug)]
struct XmlOut(String);

impl XmlOut {
    fn new() -> Self {
        Self(String::from("<xml>"))
    }

    fn cdata(&mut self, name: &str, value: &str) {
        let _ = writeln!(
            self.0,
            "<{name}><![CDATA[{}]]></{name}>",
            wxoa_proto::xml::cdata_body(value)
        );
    }

    fn raw(&mut self, name: &str, value: &str) {
        let _ = writeln!(self.0, "<{name}>{value}</{name}>");
    }

    fn number(&mut self, name: &str, value: impl std::fmt::Display) {
        self.raw(name, &value.to_string());
    }

    fn float(&mut self, name: &str, value: f64) {
        // The platform writes coordinates with six decimals (`23.137466`).
        self.raw(name, &format!("{value:.6}"));
    }

    fn open(&mut self, name: &str) {
        let _ = write!(self.0, "<{name}>");
    }

    fn close(&mut self, name: &str) {
        let _ = writeln!(self.0, "</{name}>");
    }

    fn finish(mut self) -> String {
        self.0.push_str("</xml>");
        self.0
    }
}

#[cfg(test)]
mod tests {
    use wxoa_proto::event::Event as In;
    use wxoa_proto::message::{Inbound, Kind, Message as Msg};

    use super::super::push::{
        ImageSpec, LinkSpec, LocationSpec, MenuChoice, Pics, Push, Scancode, VideoSpec, VoiceSpec,
    };
    use super::*;

    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    fn ctx() -> Context<'static> {
        Context {
            account_id: "gh_test",
            openid: "oUser",
            create_time: 1_700_000_000,
            serial: 6_054_768_590_064_713_728,
            msg_id: None,
        }
    }

    fn inbound(what: impl Into<What>) -> (Built, Inbound) {
        let built = message_xml(&what.into(), &ctx()).unwrap();
        let inbound = Inbound::parse(built.xml.as_bytes(), Default::default())
            .unwrap_or_else(|e| panic!("{e}: {}", built.xml));
        assert_eq!(inbound.to_user_name, "gh_test");
        assert_eq!(inbound.from_user_name, "oUser");
        assert_eq!(inbound.create_time, 1_700_000_000);
        (built, inbound)
    }

    fn message_of(what: impl Into<What>) -> Msg {
        let (built, inbound) = inbound(what);
        assert_eq!(inbound.msg_id(), Some(6_054_768_590_064_713_728));
        assert_eq!(built.msg_id, Some(6_054_768_590_064_713_728));
        match inbound.kind {
            Kind::Message(m) => m,
            Kind::Event(e) => panic!("not a message: {e:?}"),
        }
    }

    fn event_of(e: Event) -> In {
        let (built, inbound) = inbound(e.clone());
        assert_eq!(inbound.event_name(), Some(e.name()));
        assert_eq!(built.event.as_deref(), Some(e.name()));
        match inbound.kind {
            Kind::Event(e) => e,
            Kind::Message(m) => panic!("not an event: {m:?}"),
        }
    }

    #[test]
    fn text_message_is_byte_exact() {
        let built = message_xml(&Push::text("hi ]]> there").what, &ctx()).unwrap();
        assert_eq!(
            built.xml,
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName>\n<FromUserName><![CDATA[oUser]]></FromUserName>\n<CreateTime>1700000000</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hi ]]]]><![CDATA[> there]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>"
        );
        let m = message_of(Message::Text("hi ]]> there".to_owned()));
        assert!(matches!(m, Msg::Text { content, .. } if content == "hi ]]> there"));
    }

    #[test]
    fn every_message_type_parses_back() {
        let m = message_of(Message::MenuChoice(MenuChoice {
            id: 101,
            content: "满意".to_owned(),
        }));
        assert!(
            matches!(m, Msg::Text { content, biz_msg_menu_id: Some(101), .. } if content == "满意")
        );
        let m = message_of(Message::Image(ImageSpec::default()));
        assert!(
            matches!(&m, Msg::Image { media_id, pic_url, .. } if media_id.starts_with("mock_image_") && pic_url.contains(media_id.as_str())),
            "{m:?}"
        );
        let m = message_of(Message::Voice(VoiceSpec {
            recognition: Some("你好".to_owned()),
            ..Default::default()
        }));
        assert!(
            matches!(&m, Msg::Voice { format, recognition: Some(r), .. } if format == "amr" && r == "你好"),
            "{m:?}"
        );
        let m = message_of(Message::Voice(VoiceSpec::default()));
        assert!(
            matches!(
                &m,
                Msg::Voice {
                    recognition: None,
                    ..
                }
            ),
            "{m:?}"
        );
        let m = message_of(Message::Video(VideoSpec {
            media_id: Some("vid".to_owned()),
            thumb_media_id: None,
        }));
        assert!(
            matches!(&m, Msg::Video { media_id, thumb_media_id, .. } if media_id == "vid" && !thumb_media_id.is_empty()),
            "{m:?}"
        );
        let m = message_of(Message::ShortVideo(VideoSpec::default()));
        assert!(matches!(&m, Msg::ShortVideo { .. }), "{m:?}");
        let m = message_of(Message::Location(LocationSpec {
            latitude: 23.134521,
            longitude: 113.358803,
            scale: None,
            label: Some("广州".to_owned()),
        }));
        assert!(
            matches!(&m, Msg::Location { latitude: Some(la), longitude: Some(lo), scale: Some(s), label, .. }
                if (*la - 23.134521).abs() < 1e-9 && (*lo - 113.358803).abs() < 1e-9 && (*s - 15.0).abs() < 1e-9 && label == "广州"),
            "{m:?}"
        );
        let m = message_of(Message::Link(LinkSpec {
            url: Some("https://example.com/a".to_owned()),
            ..Default::default()
        }));
        assert!(
            matches!(&m, Msg::Link { url, title, .. } if url == "https://example.com/a" && !title.is_empty()),
            "{m:?}"
        );
    }

    #[test]
    fn forced_msg_id_wins() {
        let c = Context {
            msg_id: Some(7),
            ..ctx()
        };
        let built = message_xml(&Push::text("x").what, &c).unwrap();
        assert_eq!(built.msg_id, Some(7));
        assert!(built.xml.contains("<MsgId>7</MsgId>"));
    }

    #[test]
    fn subscribe_plain_and_by_qr_code() {
        assert_eq!(
            event_of(Event::subscribe()),
            In::Subscribe {
                event_key: None,
                ticket: None
            }
        );
        let e = event_of(Event::subscribe_scene("123"));
        assert!(
            matches!(&e, In::Subscribe { event_key: Some(k), ticket: Some(_) } if k == "qrscene_123"),
            "{e:?}"
        );
        assert_eq!(e.qr_scene(), Some("123"));
        let (built, _) = inbound(Event::subscribe_scene("123"));
        assert_eq!(built.event_key.as_deref(), Some("qrscene_123"));
        assert_eq!(built.msg_id, None, "events carry no MsgId");
        assert!(!built.xml.contains("MsgId"));
    }

    #[test]
    fn every_typed_event_parses_back() {
        assert_eq!(event_of(Event::Unsubscribe), In::Unsubscribe);
        let e = event_of(Event::scan("abc"));
        assert!(matches!(&e, In::Scan { event_key, ticket: Some(_) } if event_key == "abc"));
        let e = event_of(Event::Location {
            latitude: 23.137466,
            longitude: 113.352425,
            precision: None,
        });
        assert!(
            matches!(&e, In::Location { latitude: Some(la), precision: Some(p), .. } if (*la - 23.137466).abs() < 1e-9 && (*p - 65.0).abs() < 1e-9),
            "{e:?}"
        );
        assert_eq!(
            event_of(Event::click("MENU_HELP")),
            In::Click {
                event_key: "MENU_HELP".to_owned()
            }
        );
        assert_eq!(
            event_of(Event::View {
                url: "https://example.com".to_owned(),
                menu_id: Some("9".to_owned())
            }),
            In::View {
                url: "https://example.com".to_owned(),
                menu_id: Some("9".to_owned())
            }
        );
        let e = event_of(Event::ViewMiniProgram {
            page_path: "pages/a".to_owned(),
            menu_id: None,
        });
        assert!(matches!(&e, In::ViewMiniProgram { page_path, .. } if page_path == "pages/a"));
        let scan = Scancode {
            key: "S".to_owned(),
            scan_type: None,
            scan_result: "r1".to_owned(),
        };
        let e = event_of(Event::ScancodePush(scan.clone()));
        assert!(
            matches!(&e, In::ScancodePush { event_key, scan_type, scan_result } if event_key == "S" && scan_type == "qrcode" && scan_result == "r1")
        );
        let e = event_of(Event::ScancodeWaitmsg(scan));
        assert!(matches!(&e, In::ScancodeWaitmsg { .. }));
        let pics = Pics {
            key: "P".to_owned(),
            pics: vec!["a".to_owned(), "b".to_owned()],
        };
        let e = event_of(Event::PicWeixin(pics.clone()));
        assert!(
            matches!(&e, In::PicWeixin { count: Some(2), pic_md5_sums, .. } if pic_md5_sums == &["a", "b"])
        );
        let e = event_of(Event::PicSysphoto(Pics {
            key: "P".to_owned(),
            pics: vec![],
        }));
        assert!(
            matches!(&e, In::PicSysphoto { count: Some(1), pic_md5_sums, .. } if pic_md5_sums.len() == 1)
        );
        let e = event_of(Event::PicPhotoOrAlbum(pics));
        assert!(matches!(&e, In::PicPhotoOrAlbum { .. }));
        let e = event_of(Event::LocationSelect {
            key: "L".to_owned(),
            latitude: 1.5,
            longitude: 2.5,
            scale: None,
            label: Some("here".to_owned()),
            poiname: None,
        });
        assert!(
            matches!(&e, In::LocationSelect { label, poiname: None, scale: Some(_), .. } if label == "here"),
            "{e:?}"
        );
        let e = event_of(Event::TemplateSendJobFinish {
            status: Some("failed: system failed".to_owned()),
        });
        assert_eq!(
            e,
            In::TemplateSendJobFinish {
                msg_id: Some(6_054_768_590_064_713_728),
                status: "failed: system failed".to_owned()
            }
        );
        let forced = Context {
            msg_id: Some(200_163_836),
            ..ctx()
        };
        let job = What::Event(Event::TemplateSendJobFinish { status: None });
        let built = message_xml(&job, &forced).unwrap();
        assert_eq!(built.msg_id, Some(200_163_836));
        assert!(
            built.xml.contains("<MsgID>200163836</MsgID>"),
            "{}",
            built.xml
        );
        let e = event_of(Event::MassSendJobFinish {
            status: None,
            total_count: Some(10),
            filter_count: Some(8),
            sent_count: None,
            error_count: None,
        });
        assert!(
            matches!(&e, In::MassSendJobFinish { total_count: Some(10), filter_count: Some(8), sent_count: Some(8), error_count: Some(0), status, .. } if status == "send success"),
            "{e:?}"
        );
        let e = event_of(Event::KfCreateSession {
            kf_account: "a@t".to_owned(),
        });
        assert!(matches!(&e, In::KfCreateSession { kf_account } if kf_account == "a@t"));
        let e = event_of(Event::KfCloseSession {
            kf_account: "a@t".to_owned(),
        });
        assert!(matches!(&e, In::KfCloseSession { .. }));
        let e = event_of(Event::KfSwitchSession {
            from_kf_account: "a@t".to_owned(),
            to_kf_account: "b@t".to_owned(),
        });
        assert!(
            matches!(&e, In::KfSwitchSession { from_kf_account, to_kf_account } if from_kf_account == "a@t" && to_kf_account == "b@t")
        );
        let item = SubscribeItem {
            template_id: "T".to_owned(),
            status: Some("accept".to_owned()),
            popup_scene: Some(2),
            ..Default::default()
        };
        let e = event_of(Event::SubscribeMsgPopup {
            items: vec![item.clone(), item.clone()],
        });
        assert!(
            matches!(&e, In::SubscribeMsgPopup { items } if items.len() == 2 && items[0].popup_scene == Some(2)),
            "{e:?}"
        );
        let e = event_of(Event::SubscribeMsgChange { items: vec![item] });
        assert!(
            matches!(&e, In::SubscribeMsgChange { items } if items[0].subscribe_status == "accept")
        );
        let e = event_of(Event::SubscribeMsgSent {
            items: vec![SubscribeItem {
                template_id: "T".to_owned(),
                msg_id: Some(u64::MAX),
                error_code: Some(0),
                error_status: Some("success".to_owned()),
                ..Default::default()
            }],
        });
        assert!(
            matches!(&e, In::SubscribeMsgSent { items } if items[0].msg_id == Some(u64::MAX) && items[0].error_status == "success"),
            "{e:?}"
        );
    }

    #[test]
    fn free_form_events_and_messages() {
        let other: Push = serde_json::from_str(
            r#"{"event":"annual_renew","ExpiredTime":1700000000,"Info":{"List":[{"A":"x"},{"A":"y"}]},"Flag":true}"#,
        )
        .unwrap();
        let (built, inbound) = inbound(other.what);
        assert_eq!(
            inbound.kind,
            Kind::Event(In::AnnualRenew {
                expired_time: Some(1_700_000_000)
            })
        );
        assert!(
            built.xml.contains("<Info><List><A><![CDATA[x]]></A>\n</List>\n<List><A><![CDATA[y]]></A>\n</List>\n</Info>"),
            "{}",
            built.xml
        );
        let m: Push =
            serde_json::from_str(r#"{"msg_type":"miniprogrampage","Title":"t","AppId":"wx1"}"#)
                .unwrap();
        let m = message_of(m.what);
        assert!(
            matches!(&m, Msg::MiniProgramPage { title, app_id, .. } if title == "t" && app_id == "wx1")
        );
    }

    #[test]
    fn free_form_fields_are_checked() {
        let bad = |json: &str| {
            let p: Push = serde_json::from_str(json).unwrap();
            message_xml(&p.what, &ctx()).unwrap_err().to_string()
        };
        assert!(bad(r#"{"event":"x","FromUserName":"o"}"#).contains("written by the driver"));
        assert!(bad(r#"{"event":"x","a b":"o"}"#).contains("not a valid XML element name"));
        assert!(bad(r#"{"event":"x<y"}"#).contains("not a valid"));
        assert!(bad(r#"{"msg_type":"a/b"}"#).contains("not a valid MsgType"));
    }

    #[test]
    fn bodies_per_mode() {
        let crypt = MsgCrypt::new(KEY, "wx49f0ab532d5d035a").unwrap();
        let xml = message_xml(&Push::text("hi").what, &ctx()).unwrap().xml;
        let (plain, none) = body(Mode::Plain, &xml, "gh_test", Some(&crypt)).unwrap();
        assert_eq!((plain.as_str(), none), (xml.as_str(), None));

        let (compat, enc) = body(Mode::Compat, &xml, "gh_test", Some(&crypt)).unwrap();
        let enc = enc.unwrap();
        let root = wxoa_proto::xml::parse_document(compat.as_bytes(), Default::default()).unwrap();
        assert_eq!(root.child_text("Content"), Some("hi"));
        assert_eq!(root.child_text("Encrypt"), Some(enc.as_str()));
        assert_eq!(crypt.decrypt(&enc).unwrap(), xml.as_bytes());

        let (safe, enc) = body(Mode::Safe, &xml, "gh_test", Some(&crypt)).unwrap();
        let root = wxoa_proto::xml::parse_document(safe.as_bytes(), Default::default()).unwrap();
        let names: Vec<&str> = root.children.iter().map(|c| c.name.as_ref()).collect();
        assert_eq!(names, ["ToUserName", "Encrypt"]);
        assert_eq!(crypt.decrypt(&enc.unwrap()).unwrap(), xml.as_bytes());

        let err = body(Mode::Safe, &xml, "gh_test", None).unwrap_err();
        assert!(err.to_string().contains("EncodingAESKey"), "{err}");
    }

    #[test]
    fn query_strings_are_signed() {
        let target = Url::parse("http://127.0.0.1:1/wechat").unwrap();
        let url = push_url(
            &target,
            "spamtest",
            "1409735669",
            "1320562132",
            "oUser",
            None,
        );
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [
                ("signature", "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"),
                ("timestamp", "1409735669"),
                ("nonce", "1320562132"),
                ("openid", "oUser"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        let url = push_url(&target, "t", "1", "2", "o", Some("E+/="));
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["encrypt_type"], "aes");
        assert_eq!(q["msg_signature"], sign(&["t", "1", "2", "E+/="]));
        let url = verify_url(&target, "AAAAA", "1714037059", "486452656", "123");
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["signature"], "899cf89e464efb63f54ddac96b0a0a235f53aa78");
        assert_eq!(q["echostr"], "123");
    }
}
