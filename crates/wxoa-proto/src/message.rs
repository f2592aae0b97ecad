//! The inbound push model: the common header, ordinary messages (PROTOCOL.md §5) and dedup keys.
//!
//! [`Inbound::parse`] reads a plaintext push (after decryption in compat/safe mode). Only the
//! header's `ToUserName` and `FromUserName` are required; everything else is lenient: a missing
//! or unknown `MsgType`/`Event` gives an `Unknown` variant, a number that does not parse becomes
//! `None`, extra fields are ignored by the typed view and kept in [`Inbound::root`].

use std::str::FromStr;

use crate::document::{Document, Fields, FlatDocument};
use crate::event::Event;
use crate::xml::{self, Element, FlatFields};

/// One pushed message or event, with its raw fields kept.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The account's original ID (`gh_…`); the reply's `FromUserName`.
    pub to_user_name: String,
    /// The sender's openid; the reply's `ToUserName`.
    pub from_user_name: String,
    /// Unix seconds; 0 when missing or unparseable.
    pub create_time: i64,
    /// `MsgType` as sent (e.g. `text`, `event`); empty when missing.
    pub msg_type: String,
    /// The typed view.
    pub kind: Kind,
    /// The whole document, for fields the typed view does not cover ([`Inbound::root`]).
    document: Document,
}

impl PartialEq for Inbound {
    fn eq(&self, other: &Self) -> bool {
        self.to_user_name == other.to_user_name
            && self.from_user_name == other.from_user_name
            && self.create_time == other.create_time
            && self.msg_type == other.msg_type
            && self.kind == other.kind
            && self.root() == other.root()
    }
}

/// What a push is: an ordinary message or an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `MsgType` other than `event` (including a missing one, as [`Message::Unknown`]).
    Message(Message),
    /// `MsgType` = `event`.
    Event(Event),
}

/// Why a push could not be read.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The body is not an acceptable XML document.
    #[error("cannot read the push body: {0}")]
    Xml(#[from] xml::XmlError),
    /// A required header field is missing or empty.
    #[error(
        "push has no <{0}>; a safe-mode envelope must be decrypted before it is parsed as a message"
    )]
    MissingField(&'static str),
    /// The root element is not `<xml>`.
    #[error("push root element is <{found}>, expected <xml>")]
    NotXmlRoot {
        /// The root element's name.
        found: String,
    },
}

/// An ordinary (non-event) message, typed by `MsgType`.
///
/// Required strings are empty when missing; numbers are `None` when missing or unparseable.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `text`: `Content` as sent (not trimmed).
    Text {
        /// The text, exactly as sent.
        content: String,
        /// `MsgId`.
        msg_id: Option<u64>,
        /// `bizmsgmenuid`: the id of the tapped `msgmenu` option.
        biz_msg_menu_id: Option<i64>,
    },
    /// `image`.
    Image {
        /// `PicUrl`.
        pic_url: String,
        /// `MediaId` (downloadable for 3 days).
        media_id: String,
        /// `MsgId`.
        msg_id: Option<u64>,
    },
    /// `voice`.
    Voice {
        /// `MediaId`.
        media_id: String,
        /// `Format` (`amr`, `speex`).
        format: String,
        /// `MediaId16K` (newer pushes only).
        media_id_16k: Option<String>,
        /// `Recognition` (only with speech recognition enabled; often empty).
        recognition: Option<String>,
        /// `MsgId`.
        msg_id: Option<u64>,
    },
    /// `video`.
    Video {
        /// `MediaId`.
        media_id: String,
        /// `ThumbMediaId`.
        thumb_media_id: String,
        /// `MsgId`.
        msg_id: Option<u64>,
    },
    /// `shortvideo`.
    ShortVideo {
        /// `MediaId`.
        media_id: String,
        /// `ThumbMediaId`.
        thumb_media_id: String,
        /// `MsgId`.
        msg_id: Option<u64>,
    },
    /// `location`.
    Location {
        /// `Location_X` (latitude).
        latitude: Option<f64>,
        /// `Location_Y` (longitude).
        longitude: Option<f64>,
        /// `Scale` (map zoom).
        scale: Option<f64>,
        /// `Label`, as sent.
        label: String,
        /// `MsgId`.
        msg_id: Option<u64>,
    },
    /// `link`.
    Link {
        /// `Title`.
        title: String,
        /// `Description`.
        description: String,
        /// `Url`.
        url: String,
        /// `MsgId`.
        msg_id: Option<u64>,
    },
    /// `miniprogrampage` (Mini Program customer service).
    MiniProgramPage {
        /// `AppId`.
        app_id: String,
        /// `Title`.
        title: String,
        /// `PagePath`.
        page_path: String,
        /// `ThumbUrl`.
        thumb_url: String,
        /// `ThumbMediaId`.
        thumb_media_id: String,
        /// `MsgId`.
        msg_id: Option<u64>,
    },
    /// Any other or missing `MsgType`; the fields stay in [`Inbound::root`].
    Unknown {
        /// `MsgType` as sent (empty when missing).
        msg_type: String,
    },
}

impl Inbound {
    /// Read a parsed `<xml>` root.
    ///
    /// Missing `MsgType`, an unknown `MsgType` or an unknown `Event` give `Unknown` variants;
    /// numbers sent as text, missing optional fields and extra fields never fail.
    ///
    /// # Errors
    ///
    /// [`ParseError::NotXmlRoot`] when the root is not `<xml>`; [`ParseError::MissingField`]
    /// when `ToUserName` or `FromUserName` is missing or empty (a safe-mode envelope has no
    /// `FromUserName`).
    pub fn from_element(root: Element) -> Result<Self, ParseError> {
        if root.name != "xml" {
            return Err(ParseError::NotXmlRoot {
                found: root.name.into_owned(),
            });
        }
        let header = read_header(&root)?;
        let kind = if is_event(&header) {
            Kind::Event(Event::from_root(&root))
        } else {
            Kind::Message(Message::from_root(&root, &header.3))
        };
        Ok(Self::from_parts(header, kind, root))
    }

    /// Parse a plaintext push body: [`xml::parse_document`] then [`Inbound::from_element`].
    /// A flat message (an `<xml>` root of plain-text fields) is read in place instead, with the
    /// same result, and its tree is built only if [`Inbound::root`] is asked for.
    ///
    /// # Errors
    ///
    /// [`ParseError::Xml`] for a document the hardened reader refuses, otherwise as
    /// [`Inbound::from_element`].
    pub fn parse(input: &[u8], limits: xml::XmlLimits) -> Result<Self, ParseError> {
        if let Some(inbound) =
            xml::parse_flat(input, limits).and_then(|flat| Self::from_flat(&flat))
        {
            return Ok(inbound);
        }
        let root = xml::parse_document(input, limits)?;
        Self::from_element(root)
    }

    /// A push read from a flat document ([`xml::parse_flat`]): what [`Inbound::parse`] gives
    /// for the same input. `None` when the document is not an `<xml>` root with both header
    /// fields; the full reader then says what is wrong.
    #[must_use]
    pub fn from_flat(flat: &FlatFields<'_>) -> Option<Self> {
        if flat.root() != "xml" || flat.is_empty() {
            return None;
        }
        let header = read_header(flat).ok()?;
        if is_event(&header) {
            // Events read sections of the tree: build it.
            let root = flat.build_tree()?;
            let kind = Kind::Event(Event::from_root(&root));
            return Some(Self::from_parts(header, kind, root));
        }
        let kind = Kind::Message(Message::from_root(flat, &header.3));
        let document = Document::Flat(FlatDocument::new(flat)?);
        Some(Self::assembled(header, kind, document))
    }

    /// A push assembled from its parts, for a caller that typed it itself (a tool building
    /// a message by hand); [`Inbound::from_element`] types a tree.
    #[must_use]
    pub fn from_parts(header: Header, kind: Kind, root: Element) -> Self {
        Self::assembled(header, kind, Document::Tree(root))
    }

    /// The push of `header`, `kind` and `document`, however the document was read.
    fn assembled(header: Header, kind: Kind, document: Document) -> Self {
        let (to_user_name, from_user_name, create_time, msg_type) = header;
        Self {
            to_user_name,
            from_user_name,
            create_time,
            msg_type,
            kind,
            document,
        }
    }

    /// The whole `<xml>` element, for fields the typed view does not cover.
    #[must_use]
    pub fn root(&self) -> &Element {
        match &self.document {
            Document::Tree(root) => root,
            Document::Flat(flat) => flat.tree(),
        }
    }

    /// Keep only the top-level fields whose name `keep` accepts (with everything under them),
    /// so a push held for later holds no more of its document than it needs; the typed view
    /// is unchanged.
    pub fn retain_fields(&mut self, keep: impl Fn(&str) -> bool) {
        let kept = match &mut self.document {
            Document::Tree(root) => {
                root.children.retain(|field| keep(&field.name));
                root.children.shrink_to_fit();
                return;
            }
            Document::Flat(flat) => {
                xml::flat_tree("xml", flat.iter().filter(|(name, _)| keep(name)))
            }
        };
        self.document = Document::Tree(kept);
    }

    /// The message, when this push is one.
    #[must_use]
    pub fn message(&self) -> Option<&Message> {
        match &self.kind {
            Kind::Message(m) => Some(m),
            Kind::Event(_) => None,
        }
    }

    /// The event, when this push is one.
    #[must_use]
    pub fn event(&self) -> Option<&Event> {
        match &self.kind {
            Kind::Event(e) => Some(e),
            Kind::Message(_) => None,
        }
    }

    /// `MsgId` (ordinary messages) or `MsgID` (template/mass job events), as a 64-bit integer.
    #[must_use]
    pub fn msg_id(&self) -> Option<u64> {
        // An ordinary message typed its `MsgId` already.
        if let Kind::Message(message) = &self.kind
            && let Some(id) = message.msg_id()
        {
            return Some(id);
        }
        number(&self.document, "MsgId").or_else(|| number(&self.document, "MsgID"))
    }

    /// The `Event` field as sent (trimmed), e.g. `subscribe` or `SCAN`.
    #[must_use]
    pub fn event_name(&self) -> Option<&str> {
        text(&self.document, "Event").map(str::trim)
    }

    /// `EventKey` as sent (the `qrscene_` prefix of a QR-code subscribe is kept).
    #[must_use]
    pub fn event_key(&self) -> Option<&str> {
        text(&self.document, "EventKey")
    }

    /// The text message's `Content`, as sent.
    #[must_use]
    pub fn content(&self) -> Option<&str> {
        text(&self.document, "Content")
    }

    /// `MediaId` of a media message.
    #[must_use]
    pub fn media_id(&self) -> Option<&str> {
        text(&self.document, "MediaId")
    }

    /// The text of any top-level field; `None` when missing or empty.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&str> {
        text(&self.document, name)
    }

    /// The key under which retries of this push are recognised (PROTOCOL.md §7.3).
    ///
    /// Messages: `to|from|MsgId`. Events: `to|from|CreateTime|Event|EventKey` (empty parts when
    /// missing). A message without a usable `MsgId` falls back to `to|from|CreateTime|MsgType`.
    #[must_use]
    pub fn dedup_key(&self) -> String {
        let (to, from) = (&self.to_user_name, &self.from_user_name);
        let mut key = String::with_capacity(to.len() + from.len() + 48);
        self.dedup_key_pieces(|piece| key.push_str(piece));
        key
    }

    /// The text of [`Inbound::dedup_key`] in pieces, in order, for a caller that hashes the key
    /// without building it: joined, the pieces are exactly `dedup_key()`.
    pub fn dedup_key_pieces(&self, mut piece: impl FnMut(&str)) {
        piece(&self.to_user_name);
        piece("|");
        piece(&self.from_user_name);
        piece("|");
        let mut number = itoa::Buffer::new();
        match (&self.kind, self.msg_id()) {
            (Kind::Event(_), _) => {
                piece(number.format(self.create_time));
                piece("|");
                piece(self.event_name().unwrap_or(""));
                piece("|");
                piece(self.event_key().unwrap_or(""));
            }
            (Kind::Message(_), Some(id)) => piece(number.format(id)),
            (Kind::Message(_), None) => {
                piece(number.format(self.create_time));
                piece("|");
                piece(&self.msg_type);
            }
        }
    }
}

impl Message {
    /// `MsgId`, as typed (`None` for [`Message::Unknown`], whose fields stay in the document).
    #[must_use]
    pub fn msg_id(&self) -> Option<u64> {
        match self {
            Message::Text { msg_id, .. }
            | Message::Image { msg_id, .. }
            | Message::Voice { msg_id, .. }
            | Message::Video { msg_id, .. }
            | Message::ShortVideo { msg_id, .. }
            | Message::Location { msg_id, .. }
            | Message::Link { msg_id, .. }
            | Message::MiniProgramPage { msg_id, .. } => *msg_id,
            Message::Unknown { .. } => None,
        }
    }

    /// Type the fields of `root` according to `msg_type` (matched case-insensitively).
    pub(crate) fn from_root(root: &(impl Fields + ?Sized), msg_type: &str) -> Self {
        let msg_id = || number(root, "MsgId");
        let mut lower = [0u8; SHORT_NAME_MAX];
        match lowercase_short(msg_type, &mut lower) {
            "text" => Message::Text {
                content: string(root, "Content"),
                msg_id: msg_id(),
                biz_msg_menu_id: number(root, "bizmsgmenuid"),
            },
            "image" => Message::Image {
                pic_url: string(root, "PicUrl"),
                media_id: string(root, "MediaId"),
                msg_id: msg_id(),
            },
            "voice" => Message::Voice {
                media_id: string(root, "MediaId"),
                format: string(root, "Format"),
                media_id_16k: opt_string(root, "MediaId16K"),
                recognition: opt_string(root, "Recognition"),
                msg_id: msg_id(),
            },
            "video" => Message::Video {
                media_id: string(root, "MediaId"),
                thumb_media_id: string(root, "ThumbMediaId"),
                msg_id: msg_id(),
            },
            "shortvideo" => Message::ShortVideo {
                media_id: string(root, "MediaId"),
                thumb_media_id: string(root, "ThumbMediaId"),
                msg_id: msg_id(),
            },
            "location" => Message::Location {
                latitude: float(root, "Location_X"),
                longitude: float(root, "Location_Y"),
                scale: float(root, "Scale"),
                label: string(root, "Label"),
                msg_id: msg_id(),
            },
            "link" => Message::Link {
                title: string(root, "Title"),
                description: string(root, "Description"),
                url: string(root, "Url"),
                msg_id: msg_id(),
            },
            "miniprogrampage" => Message::MiniProgramPage {
                app_id: string(root, "AppId"),
                title: string(root, "Title"),
                page_path: string(root, "PagePath"),
                thumb_url: string(root, "ThumbUrl"),
                thumb_media_id: string(root, "ThumbMediaId"),
                msg_id: msg_id(),
            },
            _ => Message::Unknown {
                msg_type: msg_type.to_owned(),
            },
        }
    }
}

/// The longest type or event name [`lowercase_short`] lower-cases (the known ones are ≤ 28 bytes).
pub(crate) const SHORT_NAME_MAX: usize = 32;

/// `name` lower-cased (ASCII) in `buf`, without allocating; `""` when it is longer than the
/// buffer, which no known name is, so it then matches nothing known.
pub(crate) fn lowercase_short<'b>(name: &str, buf: &'b mut [u8; SHORT_NAME_MAX]) -> &'b str {
    let Some(out) = buf.get_mut(..name.len()) else {
        return "";
    };
    out.copy_from_slice(name.as_bytes());
    out.make_ascii_lowercase();
    // ASCII lower-casing keeps UTF-8 valid.
    std::str::from_utf8(out).unwrap_or("")
}

/// A push's header: `ToUserName`, `FromUserName`, `CreateTime` and `MsgType`, as
/// [`Inbound`] keeps them.
pub type Header = (String, String, i64, String);

/// The header of a push's fields: `ToUserName` and `FromUserName` are required, `CreateTime`
/// is 0 and `MsgType` empty when missing.
fn read_header(fields: &(impl Fields + ?Sized)) -> Result<Header, ParseError> {
    let to_user_name = ident(fields, "ToUserName").ok_or(ParseError::MissingField("ToUserName"))?;
    let from_user_name =
        ident(fields, "FromUserName").ok_or(ParseError::MissingField("FromUserName"))?;
    let create_time = number(fields, "CreateTime").unwrap_or(0);
    let msg_type = ident(fields, "MsgType").unwrap_or_default();
    Ok((to_user_name, from_user_name, create_time, msg_type))
}

/// Whether the push is an event (`MsgType` `event`, in any case).
fn is_event(header: &Header) -> bool {
    header.3.eq_ignore_ascii_case("event")
}

/// A field's text as sent, `None` when missing or blank ([`Element::child_text`]).
fn text<'f>(el: &'f (impl Fields + ?Sized), name: &str) -> Option<&'f str> {
    el.first(name).filter(|t| !xml::is_xml_whitespace(t))
}

/// An identifier-like field (trimmed), `None` when missing or blank.
pub(crate) fn ident(el: &(impl Fields + ?Sized), name: &str) -> Option<String> {
    text(el, name).map(|t| t.trim().to_owned())
}

/// A string field as sent; empty when missing.
pub(crate) fn string(el: &(impl Fields + ?Sized), name: &str) -> String {
    el.first(name).map(str::to_owned).unwrap_or_default()
}

/// An optional string field as sent; `None` when missing or blank.
pub(crate) fn opt_string(el: &(impl Fields + ?Sized), name: &str) -> Option<String> {
    text(el, name).map(str::to_owned)
}

/// A number field parsed leniently: surrounding whitespace ignored, anything unparseable is `None`.
pub(crate) fn number<T: FromStr>(el: &(impl Fields + ?Sized), name: &str) -> Option<T> {
    el.first(name).and_then(|t| t.trim().parse().ok())
}

/// A finite floating-point field (`NaN`/`inf` spellings are treated as unparseable).
pub(crate) fn float(el: &(impl Fields + ?Sized), name: &str) -> Option<f64> {
    number::<f64>(el, name).filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::XmlLimits;

    fn parse(s: &str) -> Result<Inbound, ParseError> {
        Inbound::parse(s.as_bytes(), XmlLimits::default())
    }

    #[test]
    fn lowercase_short_lowers_ascii_and_refuses_long_names() {
        let mut buf = [0u8; SHORT_NAME_MAX];
        assert_eq!(lowercase_short("TeXt", &mut buf), "text");
        assert_eq!(lowercase_short("", &mut buf), "");
        assert_eq!(lowercase_short("Ünï", &mut buf), "Ünï");
        assert_eq!(
            lowercase_short(&"A".repeat(SHORT_NAME_MAX), &mut buf),
            "a".repeat(SHORT_NAME_MAX)
        );
        assert_eq!(
            lowercase_short(&"a".repeat(SHORT_NAME_MAX + 1), &mut buf),
            ""
        );
    }

    #[test]
    fn text_message_header_and_body() {
        let m = parse(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>\
             <CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType>\
             <Content><![CDATA[ hi ]]></Content><MsgId>6054768590064713728</MsgId></xml>",
        )
        .unwrap();
        assert_eq!(m.to_user_name, "gh_1");
        assert_eq!(m.from_user_name, "o1");
        assert_eq!(m.create_time, 1_348_831_860);
        assert_eq!(
            m.kind,
            Kind::Message(Message::Text {
                content: " hi ".to_owned(),
                msg_id: Some(6_054_768_590_064_713_728),
                biz_msg_menu_id: None,
            })
        );
        assert_eq!(m.dedup_key(), "gh_1|o1|6054768590064713728");
    }

    #[test]
    fn root_must_be_xml_and_header_is_required() {
        assert_eq!(
            parse("<root/>"),
            Err(ParseError::NotXmlRoot {
                found: "root".to_owned()
            })
        );
        assert_eq!(
            parse("<xml><FromUserName>o</FromUserName></xml>"),
            Err(ParseError::MissingField("ToUserName"))
        );
        assert_eq!(
            parse("<xml><ToUserName>gh</ToUserName><FromUserName> </FromUserName></xml>"),
            Err(ParseError::MissingField("FromUserName"))
        );
    }

    #[test]
    fn message_without_msg_id_falls_back_to_create_time() {
        let m = parse(
            "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
             <CreateTime>x</CreateTime><MsgType>image</MsgType></xml>",
        )
        .unwrap();
        assert_eq!(m.create_time, 0);
        assert_eq!(m.dedup_key(), "gh|o|0|image");
    }

    /// The tree reader's view of `doc`, for comparing with [`Inbound::parse`]'s.
    fn through_the_tree(doc: &str) -> Result<Inbound, ParseError> {
        Inbound::from_element(xml::parse_document(doc.as_bytes(), XmlLimits::default())?)
    }

    /// Everything a caller can read of a push.
    fn view(m: &Inbound, names: &[&str]) -> Vec<Option<String>> {
        let mut seen = vec![
            Some(m.dedup_key()),
            m.msg_id().map(|id| id.to_string()),
            m.event_name().map(str::to_owned),
            m.event_key().map(str::to_owned),
            m.content().map(str::to_owned),
            m.media_id().map(str::to_owned),
            Some(format!("{:?}", m.kind)),
            Some(xml::to_document(m.root())),
        ];
        seen.extend(names.iter().map(|n| m.field(n).map(str::to_owned)));
        seen
    }

    #[test]
    fn a_flat_message_is_read_in_place_as_the_tree_reads_it() {
        let doc = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>\n<FromUserName> o1 </FromUserName><CreateTime>1348831860</CreateTime><MsgType>text</MsgType><Content><![CDATA[ hi ]]></Content><MsgId>42</MsgId><Extra></Extra></xml>";
        let flat = parse(doc).unwrap();
        assert!(matches!(flat.document, Document::Flat(_)));
        let tree = through_the_tree(doc).unwrap();
        assert_eq!(flat, tree);
        let names = ["Content", "Extra", "MsgId", "Missing"];
        assert_eq!(view(&flat, &names), view(&tree, &names));
        assert_eq!(flat.from_user_name, "o1");
        // Kept for the log: only the fields asked for, in either form.
        let (mut flat, mut tree) = (flat, tree);
        flat.retain_fields(|name| name == "MsgId");
        tree.retain_fields(|name| name == "MsgId");
        assert_eq!(flat.root(), tree.root());
        assert_eq!(flat.root().children.len(), 1);
        assert_eq!(flat.msg_id(), Some(42));
        // Events and anything not flat take the tree.
        let event = parse("<xml><ToUserName>g</ToUserName><FromUserName>o</FromUserName><MsgType>event</MsgType><Event>subscribe</Event></xml>").unwrap();
        assert!(matches!(event.document, Document::Tree(_)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Whatever a push holds, the in-place read and the tree agree on everything a caller
        /// can see of it, errors included.
        #[test]
        fn the_in_place_read_agrees_with_the_tree(
            fields in proptest::collection::vec(
                (
                    "ToUserName|FromUserName|CreateTime|MsgType|Content|MsgId|MsgID|MediaId|Event|EventKey|Location_X|Scale|Label|Format|Recognition|PicUrl|bizmsgmenuid|X",
                    "[ a-z0-9.中]{0,5}|text|image|voice|location|link|event|TEXT|1e3| 7 |-1",
                    0..3u8,
                ),
                0..10,
            ),
            root in "xml|xml|xml|root",
            header in proptest::prelude::any::<[bool; 2]>(),
        ) {
            // Mostly with the header, so that most cases are messages both readers accept.
            let mut doc = format!("<{root}>");
            if header[0] || header[1] {
                doc.push_str("<ToUserName>gh_1</ToUserName><FromUserName><![CDATA[o1]]></FromUserName>");
            }
            for (name, text, form) in &fields {
                match form {
                    0 => doc.push_str(&format!("<{name}>{text}</{name}>")),
                    1 => doc.push_str(&format!("<{name}><![CDATA[{text}]]></{name}>\n")),
                    _ => doc.push_str(&format!(" <{name}><![CDATA[{text}]]></{name}>")),
                }
            }
            doc.push_str(&format!("</{root}>"));
            let (ours, tree) = (parse(&doc), through_the_tree(&doc));
            proptest::prop_assert_eq!(&ours, &tree, "{}", doc);
            if let (Ok(ours), Ok(tree)) = (ours, tree) {
                let names: Vec<&str> = fields.iter().map(|(n, _, _)| n.as_str()).collect();
                proptest::prop_assert_eq!(view(&ours, &names), view(&tree, &names), "{}", doc);
            }
        }
    }

    #[test]
    fn float_rejects_non_finite() {
        let root = xml::parse_document(
            b"<xml><A>NaN</A><B>inf</B><C> 1.5 </C></xml>",
            XmlLimits::default(),
        )
        .unwrap();
        assert_eq!(float(&root, "A"), None);
        assert_eq!(float(&root, "B"), None);
        assert_eq!(float(&root, "C"), Some(1.5));
    }
}
