//! Synthetic inbound messages, built as a push would be, for `wxoa rules test` and tests.
//!
//! Each message is rendered to XML and parsed with [`Inbound::parse`], so it is exactly what
//! the platform's push would give: sender [`PROBE_OPENID`], account [`PROBE_ACCOUNT`],
//! `CreateTime` [`PROBE_CREATE_TIME`], messages with `MsgId` [`PROBE_MSG_ID`].

use wxoa_proto::message::{Inbound, Kind, Message};
use wxoa_proto::xml::{Element, XmlLimits};

/// `FromUserName` of every probe message.
pub const PROBE_OPENID: &str = "o_probe_user";
/// `ToUserName` (the account's original id) of every probe message.
pub const PROBE_ACCOUNT: &str = "gh_probe";
/// `CreateTime` of every probe message (2023-11-14T22:13:20Z).
pub const PROBE_CREATE_TIME: i64 = 1_700_000_000;
/// `MsgId` of every probe message that is not an event.
pub const PROBE_MSG_ID: u64 = 7_300_000_000_000_000_001;

/// One element of a probe push: a string (CDATA), a number (bare) or nested elements.
enum Node {
    Str(&'static str, String),
    Num(&'static str, String),
    Nest(&'static str, Vec<Node>),
}

use Node::{Nest, Num, Str};

fn s(name: &'static str, value: &str) -> Node {
    Str(name, value.to_owned())
}

fn n(name: &'static str, value: impl ToString) -> Node {
    Num(name, value.to_string())
}

/// A text message with `content` as its `Content`.
#[must_use]
pub fn text_message(content: &str) -> Inbound {
    message("text", vec![s("Content", content)])
}

/// A voice message; `recognition` is the speech-recognition text (absent when `None`).
#[must_use]
pub fn voice_message(recognition: Option<&str>) -> Inbound {
    let mut fields = vec![
        s("MediaId", "probe_voice_media_id"),
        s("Format", "amr"),
        s("MediaId16K", "probe_voice_media_id_16k"),
    ];
    if let Some(r) = recognition {
        fields.push(s("Recognition", r));
    }
    message("voice", fields)
}

/// An event push: `Event` as given (case kept), `EventKey` when given, and the fields the
/// platform sends with that event (a `Ticket` for QR-code scans, coordinates for `LOCATION`,
/// scan results for `scancode_*`, …).
#[must_use]
pub fn event_message(event: &str, event_key: Option<&str>) -> Inbound {
    let mut fields = vec![s("Event", event)];
    if let Some(key) = event_key {
        fields.push(s("EventKey", key));
    }
    match event.to_ascii_lowercase().as_str() {
        "subscribe" if event_key.is_some_and(|k| k.starts_with("qrscene_")) => {
            fields.push(s("Ticket", "probe_ticket"));
        }
        "scan" => fields.push(s("Ticket", "probe_ticket")),
        "location" => fields.extend([
            n("Latitude", "23.137466"),
            n("Longitude", "113.352425"),
            n("Precision", "119.385040"),
        ]),
        "view" | "view_miniprogram" => fields.push(n("MenuId", 1)),
        "scancode_push" | "scancode_waitmsg" => fields.push(Nest(
            "ScanCodeInfo",
            vec![
                s("ScanType", "qrcode"),
                s("ScanResult", "probe_scan_result"),
            ],
        )),
        "pic_sysphoto" | "pic_photo_or_album" | "pic_weixin" => fields.push(Nest(
            "SendPicsInfo",
            vec![
                n("Count", 1),
                Nest(
                    "PicList",
                    vec![Nest(
                        "item",
                        vec![s("PicMd5Sum", "1b5f7c23b5bf75682a53e7b6d163e185")],
                    )],
                ),
            ],
        )),
        "location_select" => fields.push(Nest(
            "SendLocationInfo",
            vec![
                n("Location_X", "23.134521"),
                n("Location_Y", "113.358803"),
                n("Scale", 15),
                s("Label", "广州市海珠区客村艺苑路 106号"),
                s("Poiname", ""),
            ],
        )),
        "templatesendjobfinish" => {
            fields.extend([n("MsgID", 200_163_836), s("Status", "success")]);
        }
        "masssendjobfinish" => fields.extend([
            n("MsgID", 1_000_001_625),
            s("Status", "send success"),
            n("TotalCount", 100),
            n("FilterCount", 80),
            n("SentCount", 75),
            n("ErrorCount", 5),
        ]),
        "publishjobfinish" => fields.push(Nest(
            "PublishEventInfo",
            vec![
                n("publish_id", 2_247_503_051_u64),
                n("publish_status", 0),
                s("article_id", "probe_article_id"),
                Nest(
                    "article_detail",
                    vec![
                        n("count", 1),
                        Nest(
                            "item",
                            vec![
                                n("idx", 1),
                                s("article_url", "https://mp.weixin.qq.com/s/probe"),
                            ],
                        ),
                    ],
                ),
            ],
        )),
        "subscribe_msg_popup_event" | "subscribe_msg_change_event" | "subscribe_msg_sent_event" => {
            let section = match event {
                e if e.eq_ignore_ascii_case("subscribe_msg_popup_event") => {
                    "SubscribeMsgPopupEvent"
                }
                e if e.eq_ignore_ascii_case("subscribe_msg_change_event") => {
                    "SubscribeMsgChangeEvent"
                }
                _ => "SubscribeMsgSentEvent",
            };
            fields.push(Nest(
                section,
                vec![Nest(
                    "List",
                    vec![
                        s("TemplateId", "probe_template_id"),
                        s("SubscribeStatusString", "accept"),
                        n("PopupScene", 2),
                        n("MsgID", 1_700_827_132_819_554_304_u64),
                        n("ErrorCode", 0),
                        s("ErrorStatus", "success"),
                    ],
                )],
            ));
        }
        _ => {}
    }
    build("event", fields)
}

/// A message of type `msg_type` with plausible fields: `text` (Content `probe`), `image`,
/// `voice` (no recognition), `video`, `shortvideo`, `location`, `link`, `miniprogrampage`;
/// `event` gives a plain `subscribe`; any other type gets only the common fields and a
/// `MsgId` (it parses as an unknown message type).
#[must_use]
pub fn message_of_type(msg_type: &str) -> Inbound {
    match msg_type.to_ascii_lowercase().as_str() {
        "text" => text_message("probe"),
        "voice" => voice_message(None),
        "event" => event_message("subscribe", None),
        "image" => message(
            "image",
            vec![
                s("PicUrl", "https://mmbiz.qpic.cn/probe/0"),
                s("MediaId", "probe_image_media_id"),
            ],
        ),
        t @ ("video" | "shortvideo") => message(
            if t == "video" { "video" } else { "shortvideo" },
            vec![
                s("MediaId", "probe_video_media_id"),
                s("ThumbMediaId", "probe_thumb_media_id"),
            ],
        ),
        "location" => message(
            "location",
            vec![
                n("Location_X", "23.134521"),
                n("Location_Y", "113.358803"),
                n("Scale", 20),
                s("Label", "广州市海珠区客村艺苑路 106号"),
            ],
        ),
        "link" => message(
            "link",
            vec![
                s("Title", "公众平台官网链接"),
                s("Description", "公众平台官网链接"),
                s("Url", "https://mp.weixin.qq.com/"),
            ],
        ),
        "miniprogrampage" => message(
            "miniprogrampage",
            vec![
                s("AppId", "wx0000000000000000"),
                s("Title", "probe page"),
                s("PagePath", "pages/index/index"),
                s("ThumbUrl", "https://mmbiz.qpic.cn/probe/1"),
                s("ThumbMediaId", "probe_thumb_media_id"),
            ],
        ),
        _ => message(msg_type, Vec::new()),
    }
}

/// A message (not an event): the type-specific fields, then `MsgId`.
fn message(msg_type: &str, mut fields: Vec<Node>) -> Inbound {
    fields.push(n("MsgId", PROBE_MSG_ID));
    build(msg_type, fields)
}

/// Render the push and parse it like the edge does.
fn build(msg_type: &str, fields: Vec<Node>) -> Inbound {
    let mut all = vec![
        s("ToUserName", PROBE_ACCOUNT),
        s("FromUserName", PROBE_OPENID),
        n("CreateTime", PROBE_CREATE_TIME),
        s("MsgType", msg_type),
    ];
    all.extend(fields);
    let mut xml = String::from("<xml>");
    for node in &all {
        write_node(&mut xml, node);
    }
    xml.push_str("</xml>");
    // No size limit: a probe is whatever the operator typed. The XML above is well-formed
    // (CDATA split around `]]>`, control characters stripped by the parser), so the fallback
    // below only exists to avoid a panic path.
    let limits = XmlLimits {
        max_bytes: usize::MAX,
        ..XmlLimits::default()
    };
    match Inbound::parse(xml.as_bytes(), limits) {
        Ok(msg) => msg,
        Err(_) => fallback(msg_type, all),
    }
}

fn write_node(out: &mut String, node: &Node) {
    match node {
        Str(name, v) => {
            out.push('<');
            out.push_str(name);
            out.push_str("><![CDATA[");
            out.push_str(&wxoa_proto::xml::cdata_body(v));
            out.push_str("]]></");
            out.push_str(name);
            out.push('>');
        }
        Num(name, v) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            out.push_str(v);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        Nest(name, children) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            for c in children {
                write_node(out, c);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

fn to_element(node: Node) -> Element {
    match node {
        Str(name, text) | Num(name, text) => Element {
            name: name.to_owned().into(),
            text,
            children: Vec::new(),
        },
        Nest(name, children) => Element {
            name: name.to_owned().into(),
            text: String::new(),
            children: children.into_iter().map(to_element).collect(),
        },
    }
}

/// The same message built from the element tree directly.
fn fallback(msg_type: &str, fields: Vec<Node>) -> Inbound {
    let root = Element {
        name: "xml".into(),
        text: String::new(),
        children: fields.into_iter().map(to_element).collect(),
    };
    match Inbound::from_element(root.clone()) {
        Ok(msg) => msg,
        Err(_) => Inbound::from_parts(
            (
                PROBE_ACCOUNT.to_owned(),
                PROBE_OPENID.to_owned(),
                PROBE_CREATE_TIME,
                msg_type.to_owned(),
            ),
            Kind::Message(Message::Unknown {
                msg_type: msg_type.to_owned(),
            }),
            root,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_survives_cdata_terminator_and_controls() {
        let m = text_message("a]]>b\u{1}c");
        assert_eq!(m.content(), Some("a]]>bc"));
        assert_eq!(m.from_user_name, PROBE_OPENID);
        assert_eq!(m.to_user_name, PROBE_ACCOUNT);
        assert_eq!(m.create_time, PROBE_CREATE_TIME);
        assert_eq!(m.msg_id(), Some(PROBE_MSG_ID));
    }

    #[test]
    fn big_text_is_not_refused() {
        let big = "长".repeat(600_000);
        assert_eq!(text_message(&big).content(), Some(big.as_str()));
    }

    #[test]
    fn fallback_matches_parse() {
        let fields = || vec![s("Content", "hi"), n("MsgId", PROBE_MSG_ID)];
        let parsed = build("text", fields());
        let mut all = vec![
            s("ToUserName", PROBE_ACCOUNT),
            s("FromUserName", PROBE_OPENID),
            n("CreateTime", PROBE_CREATE_TIME),
            s("MsgType", "text"),
        ];
        all.extend(fields());
        assert_eq!(fallback("text", all), parsed);
    }
}
