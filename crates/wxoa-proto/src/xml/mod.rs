//! Hardened XML reader for push bodies: no DTD, only predefined entities, size/depth limits, one root.
//!
//! WeChat pushes small, attribute-free documents whose leaves hold text or CDATA. This module
//! reads such a document into a tiny [`Element`] tree in one pass over quick-xml's events:
//!
//! - C0 control characters other than `\t`, `\n`, `\r` are removed before parsing (WeChat passes
//!   them through and XML 1.0 forbids them, PROTOCOL.md §11 #2), and character references that
//!   resolve to them are dropped the same way.
//! - A `<!DOCTYPE …>` anywhere is refused ([`XmlError::Doctype`]), so no entity can be declared;
//!   only `&lt; &gt; &amp; &apos; &quot;` and numeric character references are decoded.
//! - Text and CDATA both land in [`Element::text`], exactly as sent (no trimming, no end-of-line
//!   normalisation). Whitespace-only runs that sit next to markup (between child elements, or
//!   around a CDATA section) are formatting and are dropped.
//! - Attributes, comments, processing instructions and the XML declaration are ignored.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::Event as XmlEvent;

use crate::limits;

mod flat;
mod simple;
mod write;

pub(crate) use flat::flat_tree;
pub use flat::{FlatFields, parse_flat};
pub use write::to_document;

/// Room made up front for the root's children.
const ROOT_CHILDREN: usize = 12;

/// Size and depth bounds enforced by [`parse_document`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Largest accepted input, in bytes (checked before anything else).
    pub max_bytes: usize,
    /// Deepest accepted element nesting; the root element is depth 1.
    pub max_depth: usize,
}

impl Default for XmlLimits {
    /// 1 MiB and depth 16 ([`limits::DEFAULT_XML_MAX_BYTES`], [`limits::DEFAULT_XML_MAX_DEPTH`]).
    fn default() -> Self {
        Self {
            max_bytes: limits::DEFAULT_XML_MAX_BYTES,
            max_depth: limits::DEFAULT_XML_MAX_DEPTH,
        }
    }
}

/// One element of a parsed document: its name, its text (text and CDATA concatenated), its
/// child elements in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The tag name as written (qualified names keep their prefix). The field names of the
    /// platform's pushes are shared static strings; others are allocated.
    pub name: Cow<'static, str>,
    /// The character data directly inside this element, exactly as sent.
    pub text: String,
    /// Child elements in document order; repeated names appear repeatedly.
    pub children: Vec<Element>,
}

/// An element with no name, text or children, used where an optional parent is missing.
pub(crate) static EMPTY_ELEMENT: Element = Element {
    name: Cow::Borrowed(""),
    text: String::new(),
    children: Vec::new(),
};

impl Element {
    /// The first child element called `name`.
    #[must_use]
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is_named(name))
    }

    /// Every child element called `name`, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.is_named(name))
    }

    /// Whether this element is called `name`. Field lookups scan a push's dozen children by
    /// name, so the length and first byte are compared before the whole name.
    #[must_use]
    pub fn is_named(&self, name: &str) -> bool {
        let (mine, wanted) = (self.name.as_bytes(), name.as_bytes());
        mine.len() == wanted.len() && mine.first() == wanted.first() && mine == wanted
    }

    /// The text of the first child called `name`, as sent.
    ///
    /// `None` when the child is missing **or** its text is empty or whitespace-only: WeChat sends
    /// `<EventKey><![CDATA[]]></EventKey>` and omits the element interchangeably (PROTOCOL.md §11 #8).
    #[must_use]
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.as_str())
            .filter(|t| !is_xml_whitespace(t))
    }
}

/// Why a document was refused.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// The input is longer than [`XmlLimits::max_bytes`].
    #[error(
        "XML body is {len} bytes, over the {max}-byte limit (raise xml max_bytes if pushes are really this large)"
    )]
    TooLarge {
        /// Input length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// Elements nest deeper than [`XmlLimits::max_depth`].
    #[error("XML elements nest deeper than {max} levels")]
    TooDeep {
        /// The configured limit.
        max: usize,
    },
    /// The document contains a DOCTYPE declaration (refused: it could declare entities).
    #[error(
        "XML with a DOCTYPE declaration is refused (WeChat never sends one; entities are not expanded)"
    )]
    Doctype,
    /// The input is not UTF-8 (WeChat always sends UTF-8).
    #[error("XML body is not valid UTF-8")]
    NotUtf8,
    /// The input is not well-formed XML.
    #[error("malformed XML: {reason}")]
    Malformed {
        /// What is wrong, with the byte offset where known.
        reason: String,
    },
    /// The input holds no element at all.
    #[error("XML body has no root element")]
    Empty,
}

/// Parse a document and return its root element.
///
/// Strips C0 controls other than `\t \n \r` (from text and CDATA alike) before parsing, rejects
/// any DOCTYPE/DTD (no entity expansion: only the 5 predefined entities and numeric character
/// references are decoded), enforces `limits`, and requires exactly one root element.
///
/// # Errors
///
/// [`XmlError::TooLarge`] before any parsing when the input is over `limits.max_bytes`;
/// [`XmlError::NotUtf8`], [`XmlError::Doctype`], [`XmlError::TooDeep`], [`XmlError::Empty`], or
/// [`XmlError::Malformed`] for anything else that is not a single well-formed element.
pub fn parse_document(input: &[u8], limits: XmlLimits) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            len: input.len(),
            max: limits.max_bytes,
        });
    }
    // A push is nearly always one root of text fields: its tree is built from them directly.
    if let Some(root) = parse_flat(input, limits).and_then(|flat| flat.build_tree()) {
        return Ok(root);
    }
    let text = std::str::from_utf8(input).map_err(|_| XmlError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let cleaned = strip_control_chars(text);
    match simple::parse_simple(&cleaned, limits.max_depth) {
        Some(root) => Ok(root),
        None => parse_str(&cleaned, limits.max_depth),
    }
}

/// Remove C0 control characters except `\t`, `\n` and `\r`.
///
/// Used on every input before parsing and on every string the crate emits. Borrows when there is
/// nothing to remove (the common case).
#[must_use]
pub fn strip_control_chars(s: &str) -> Cow<'_, str> {
    if !has_forbidden_control(s.as_bytes()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    // C0 controls are single-byte code points, so splitting on them keeps UTF-8 intact.
    for piece in s.split(|c: char| c.is_ascii() && is_forbidden_control(c as u8)) {
        out.push_str(piece);
    }
    Cow::Owned(out)
}

/// Whether `bytes` holds a forbidden control character. Every push body goes through this, so
/// it tests 8 bytes at a time for any byte below 0x20 and only looks closer at a word that has
/// one (tab, LF and CR are below 0x20 too, and allowed).
fn has_forbidden_control(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    let (words, rest) = bytes.as_chunks::<8>();
    for word in words {
        let w = u64::from_ne_bytes(*word);
        // Non-zero exactly when some byte of `w` is below 0x20 (the "hasless" bit trick).
        let has_low_byte = w.wrapping_sub(ONES * 0x20) & !w & HIGH_BITS != 0;
        if has_low_byte && word.iter().any(|&b| is_forbidden_control(b)) {
            return true;
        }
    }
    rest.iter().any(|&b| is_forbidden_control(b))
}

/// A C0 control character that XML 1.0 forbids (everything below 0x20 except tab, LF, CR).
#[inline]
fn is_forbidden_control(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')
}

/// Where the first `]]>` in `bytes` starts: the end of a CDATA section's content, or the
/// sequence a CDATA writer must split. Sections in pushes and replies are short and seldom hold
/// a `]`, so scanning for `]` costs less than setting up a substring search on every call.
#[must_use]
pub(crate) fn find_cdata_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b']', &bytes[from..]) {
        let at = from + i;
        if bytes[at..].starts_with(b"]]>") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Content for `<![CDATA[..]]>` that parses back to `s`: each `]]>` is split across two
/// sections. Borrows when there is none (the common case).
#[must_use]
pub fn cdata_body(s: &str) -> Cow<'_, str> {
    if find_cdata_end(s.as_bytes()).is_some() {
        Cow::Owned(s.replace("]]>", "]]]]><![CDATA[>"))
    } else {
        Cow::Borrowed(s)
    }
}

/// True when `s` is empty or only XML whitespace (space, tab, LF, CR).
#[inline]
pub(crate) fn is_xml_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// An element being read, with the whitespace run that is not yet known to be content.
#[derive(Debug)]
struct Frame<'a> {
    element: Element,
    /// Whitespace-only text seen since the last content; kept only if content follows it, or if
    /// the element ends without having seen any markup.
    pending_ws: Option<Cow<'a, str>>,
    /// Whether a child element or a CDATA section has been seen.
    has_markup: bool,
}

impl<'a> Frame<'a> {
    fn new(name: Cow<'static, str>) -> Self {
        Self {
            element: Element {
                name,
                text: String::new(),
                children: Vec::new(),
            },
            pending_ws: None,
            has_markup: false,
        }
    }

    fn append(&mut self, s: Cow<'a, str>) {
        if s.is_empty() {
            return;
        }
        if self.element.text.is_empty() {
            self.element.text = s.into_owned();
        } else {
            self.element.text.push_str(&s);
        }
    }

    fn flush_pending(&mut self) {
        if let Some(ws) = self.pending_ws.take() {
            self.append(ws);
        }
    }

    fn text(&mut self, s: Cow<'a, str>) {
        if is_xml_whitespace(&s) {
            match &mut self.pending_ws {
                Some(p) => p.to_mut().push_str(&s),
                None => self.pending_ws = Some(s),
            }
        } else {
            self.flush_pending();
            self.append(s);
        }
    }

    fn cdata(&mut self, s: Cow<'a, str>) {
        self.pending_ws = None;
        self.has_markup = true;
        self.append(s);
    }

    fn reference(&mut self, c: char) {
        self.flush_pending();
        self.element.text.push(c);
    }

    fn child_started(&mut self) {
        self.pending_ws = None;
        self.has_markup = true;
    }

    fn finish(mut self) -> Element {
        if !self.has_markup {
            self.flush_pending();
        }
        self.element
    }
}

fn malformed(reason: impl Into<String>) -> XmlError {
    XmlError::Malformed {
        reason: reason.into(),
    }
}

fn parse_str(src: &str, max_depth: usize) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(src);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
    }

    let mut stack: Vec<Frame<'_>> = Vec::with_capacity(4);
    let mut root: Option<Element> = None;

    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(err) => {
                return Err(malformed(format!(
                    "{err} (at byte {})",
                    reader.error_position()
                )));
            }
        };
        match event {
            XmlEvent::Start(start) => {
                let name = element_name(start.name().as_ref())?;
                open(&mut stack, &root, name, max_depth)?;
            }
            XmlEvent::Empty(start) => {
                let name = element_name(start.name().as_ref())?;
                open(&mut stack, &root, name, max_depth)?;
                close(&mut stack, &mut root)?;
            }
            XmlEvent::End(_) => close(&mut stack, &mut root)?,
            XmlEvent::Text(text) => {
                let s = text
                    .decode()
                    .map_err(|e| malformed(format!("undecodable text: {e}")))?;
                match stack.last_mut() {
                    Some(frame) => frame.text(s),
                    None if is_xml_whitespace(&s) => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            XmlEvent::CData(cdata) => {
                let s = cdata
                    .decode()
                    .map_err(|e| malformed(format!("undecodable CDATA: {e}")))?;
                match stack.last_mut() {
                    Some(frame) => frame.cdata(s),
                    None => return Err(malformed("CDATA outside the root element")),
                }
            }
            XmlEvent::GeneralRef(reference) => {
                let resolved = resolve_reference(reference.as_ref())?;
                match stack.last_mut() {
                    Some(frame) => {
                        if let Some(c) = resolved {
                            frame.reference(c);
                        }
                    }
                    None => return Err(malformed("entity reference outside the root element")),
                }
            }
            XmlEvent::DocType(_) => return Err(XmlError::Doctype),
            XmlEvent::Comment(_) | XmlEvent::PI(_) | XmlEvent::Decl(_) => {}
            XmlEvent::Eof => break,
        }
    }

    if let Some(open) = stack.last() {
        return Err(malformed(format!(
            "document ends inside <{}>",
            open.element.name
        )));
    }
    root.ok_or(XmlError::Empty)
}

fn element_name(raw: &[u8]) -> Result<Cow<'static, str>, XmlError> {
    std::str::from_utf8(raw)
        .map(intern_name)
        .map_err(|_| malformed("element name is not UTF-8"))
}

/// The names pushes use most, shared instead of allocated for every element.
const COMMON_NAMES: &[&str] = &[
    "xml",
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "MsgDataId",
    "Idx",
    "Event",
    "EventKey",
    "Ticket",
    "Encrypt",
    "PicUrl",
    "MediaId",
    "Format",
    "Recognition",
    "MediaId16K",
    "ThumbMediaId",
    "Location_X",
    "Location_Y",
    "Scale",
    "Label",
    "Title",
    "Description",
    "Url",
    "Latitude",
    "Longitude",
    "Precision",
    "bizmsgmenuid",
];

/// `name` as a shared static string when it is a common one, else a copy.
pub(crate) fn intern_name(name: &str) -> Cow<'static, str> {
    // Most names differ from most common ones in length or first byte: test those first.
    let first = name.as_bytes().first();
    match COMMON_NAMES.iter().find(|common| {
        common.len() == name.len() && common.as_bytes().first() == first && **common == name
    }) {
        Some(common) => Cow::Borrowed(common),
        None => Cow::Owned(name.to_owned()),
    }
}

fn open<'a>(
    stack: &mut Vec<Frame<'a>>,
    root: &Option<Element>,
    name: Cow<'static, str>,
    max_depth: usize,
) -> Result<(), XmlError> {
    if stack.len() >= max_depth {
        return Err(XmlError::TooDeep { max: max_depth });
    }
    match stack.last_mut() {
        Some(parent) => parent.child_started(),
        None if root.is_some() => {
            return Err(malformed(format!(
                "second root element <{name}> (a document has exactly one)"
            )));
        }
        None => {}
    }
    let mut frame = Frame::new(name);
    if stack.is_empty() {
        // The root of a push holds 5–12 fields: one allocation instead of growing 4 → 8 → 16.
        frame.element.children.reserve(ROOT_CHILDREN);
    }
    stack.push(frame);
    Ok(())
}

fn close(stack: &mut Vec<Frame<'_>>, root: &mut Option<Element>) -> Result<(), XmlError> {
    let frame = stack
        .pop()
        .ok_or_else(|| malformed("closing tag without an open element"))?;
    let element = frame.finish();
    match stack.last_mut() {
        Some(parent) => parent.element.children.push(element),
        None => *root = Some(element),
    }
    Ok(())
}

/// Resolve `&name;`: the five predefined entities and numeric character references.
/// `Ok(None)` for a character reference to a forbidden control character (dropped like the raw
/// character would be).
fn resolve_reference(name: &[u8]) -> Result<Option<char>, XmlError> {
    let c = match name {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"apos" => '\'',
        b"quot" => '"',
        [b'#', b'x' | b'X', hex @ ..] => char_from_digits(hex, 16)?,
        [b'#', dec @ ..] => char_from_digits(dec, 10)?,
        other => {
            return Err(malformed(format!(
                "unknown entity &{}; (only &lt; &gt; &amp; &apos; &quot; and character references are allowed)",
                String::from_utf8_lossy(other)
            )));
        }
    };
    if c.is_ascii() && is_forbidden_control(c as u8) {
        Ok(None)
    } else {
        Ok(Some(c))
    }
}

fn char_from_digits(digits: &[u8], radix: u32) -> Result<char, XmlError> {
    let invalid = || {
        malformed(format!(
            "invalid character reference &#{};",
            String::from_utf8_lossy(digits)
        ))
    };
    // from_str_radix accepts a leading '+', which XML does not.
    if digits.is_empty() || !digits.iter().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let digits = std::str::from_utf8(digits).map_err(|_| invalid())?;
    let code = u32::from_str_radix(digits, radix).map_err(|_| invalid())?;
    char::from_u32(code).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Element, XmlError> {
        parse_document(s.as_bytes(), XmlLimits::default())
    }

    #[test]
    fn cdata_end_is_the_first_complete_marker() {
        assert_eq!(find_cdata_end(b"abc]]>def]]>"), Some(3));
        assert_eq!(find_cdata_end(b"]]]]>"), Some(2));
        assert_eq!(find_cdata_end(b"a]b]]c]]"), None);
        assert_eq!(find_cdata_end(b""), None);
    }

    #[test]
    fn cdata_body_splits_every_marker_and_borrows_otherwise() {
        assert!(matches!(cdata_body("123"), Cow::Borrowed("123")));
        assert_eq!(cdata_body("]]>]]>"), "]]]]><![CDATA[>]]]]><![CDATA[>");
    }

    proptest::proptest! {
        #[test]
        fn cdata_end_agrees_with_a_substring_search(s in "[a\\]>中]{0,24}") {
            proptest::prop_assert_eq!(find_cdata_end(s.as_bytes()), s.find("]]>"));
        }
    }

    #[test]
    fn cdata_and_text_are_kept_as_sent() {
        let root = parse("<xml><A><![CDATA[  x ]]></A><B> y </B><C>\n  <![CDATA[z]]>\n</C></xml>")
            .unwrap();
        assert_eq!(root.child("A").unwrap().text, "  x ");
        assert_eq!(root.child("B").unwrap().text, " y ");
        assert_eq!(root.child("C").unwrap().text, "z");
        assert_eq!(root.text, "");
    }

    #[test]
    fn entities_and_char_refs_are_decoded() {
        let root = parse("<xml><A>a &lt;&gt;&amp;&apos;&quot; &#20013;&#x6587;</A></xml>").unwrap();
        assert_eq!(root.child("A").unwrap().text, "a <>&'\" 中文");
    }

    #[test]
    fn unknown_entity_and_bad_char_ref_are_malformed() {
        assert!(matches!(
            parse("<xml><A>&foo;</A></xml>"),
            Err(XmlError::Malformed { .. })
        ));
        assert!(matches!(
            parse("<xml><A>&#xD800;</A></xml>"),
            Err(XmlError::Malformed { .. })
        ));
        assert!(matches!(
            parse("<xml><A>&#+5;</A></xml>"),
            Err(XmlError::Malformed { .. })
        ));
    }

    #[test]
    fn control_char_refs_are_dropped() {
        let root = parse("<xml><A>a&#1;b&#x9;c</A></xml>").unwrap();
        assert_eq!(root.child("A").unwrap().text, "ab\tc");
    }

    #[test]
    fn strip_control_chars_borrows_when_clean() {
        assert!(matches!(strip_control_chars("a\tb\r\nc"), Cow::Borrowed(_)));
        assert_eq!(strip_control_chars("a\u{0}b\u{1f}c\u{7}中"), "abc中");
    }

    #[test]
    fn forbidden_controls_are_found_at_any_offset() {
        for len in [0, 1, 31, 32, 33, 64, 70] {
            let clean = "a".repeat(len);
            assert!(!has_forbidden_control(clean.as_bytes()));
            for at in 0..len {
                let mut bytes = clean.clone().into_bytes();
                bytes[at] = b'\t';
                assert!(!has_forbidden_control(&bytes), "tab at {at} of {len}");
                for b in 0..=255u8 {
                    bytes[at] = b;
                    assert_eq!(
                        has_forbidden_control(&bytes),
                        is_forbidden_control(b),
                        "{b:#04x} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn depth_limit_counts_the_root() {
        let limits = XmlLimits {
            max_bytes: 1024,
            max_depth: 2,
        };
        assert!(parse_document(b"<xml><a>1</a></xml>", limits).is_ok());
        assert_eq!(
            parse_document(b"<xml><a><b/></a></xml>", limits),
            Err(XmlError::TooDeep { max: 2 })
        );
    }

    #[test]
    fn empty_input_and_second_root() {
        assert_eq!(parse(""), Err(XmlError::Empty));
        assert_eq!(parse("  <!-- c -->  "), Err(XmlError::Empty));
        assert!(matches!(parse("<a/><b/>"), Err(XmlError::Malformed { .. })));
        assert!(matches!(parse("<a>"), Err(XmlError::Malformed { .. })));
        assert!(matches!(parse("x<a/>"), Err(XmlError::Malformed { .. })));
    }

    #[test]
    fn child_text_treats_blank_as_absent() {
        let root = parse("<xml><A><![CDATA[]]></A><B> </B><C>c</C></xml>").unwrap();
        assert_eq!(root.child_text("A"), None);
        assert_eq!(root.child_text("B"), None);
        assert_eq!(root.child_text("C"), Some("c"));
        assert_eq!(root.child_text("D"), None);
        assert_eq!(root.children_named("A").count(), 1);
    }
}
