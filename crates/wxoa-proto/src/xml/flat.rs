//! A borrowing read of flat documents (one root holding only text fields): the 安全-mode
//! envelope is read without building a tree, and a flat push's tree is built straight from its
//! fields. Anything else is left to the full reader.

use memchr::memchr;

use super::simple::{is_literal_text, is_simple_name};
use super::{
    Element, XmlLimits, find_cdata_end, has_forbidden_control, intern_name, is_xml_whitespace,
};

/// The most fields a flat document may have here (a 兼容-mode envelope carries the whole push
/// beside `<Encrypt>`, about ten); longer documents take the full reader.
const MAX_FIELDS: usize = 16;

/// The fields of a flat document, in document order, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatFields<'a> {
    /// The whole document, as read.
    source: &'a str,
    root: &'a str,
    fields: [(&'a str, &'a str); MAX_FIELDS],
    len: usize,
}

impl<'a> FlatFields<'a> {
    /// The text of the first field called `name`, as [`super::Element::child`] would find it.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, text)| text)
    }

    /// Every field as `(name, text)`, in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.fields[..self.len].iter().copied()
    }

    /// How many fields there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the root holds no field.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root element's name.
    #[must_use]
    pub fn root(&self) -> &'a str {
        self.root
    }

    /// The whole document the fields were read from: every name and text is a slice of it.
    #[must_use]
    pub fn source(&self) -> &'a str {
        self.source
    }

    /// The tree [`super::parse_document`] reads from the same document: the root and one
    /// childless element a field. `None` for a root without fields, whose whitespace the full
    /// reader keeps as the root's text.
    pub(crate) fn build_tree(&self) -> Option<Element> {
        (!self.is_empty()).then(|| flat_tree(self.root, self.iter()))
    }
}

/// Read `input` when it is a flat document the fast path can take whole: valid UTF-8 within
/// `limits`, no control characters to strip, one root element with simple names, and children
/// that each hold either plain text (no references) or exactly one CDATA section, separated by
/// whitespace only.
///
/// `None` for anything else, including every malformed input: the full reader then parses it or
/// says exactly what is wrong. Where this answers, [`super::parse_document`] gives a root whose
/// children have exactly these names and texts, and no children of their own.
#[must_use]
pub fn parse_flat(input: &[u8], limits: XmlLimits) -> Option<FlatFields<'_>> {
    if input.len() > limits.max_bytes || limits.max_depth < 2 {
        return None;
    }
    let source = std::str::from_utf8(input).ok()?;
    let text = source.strip_prefix('\u{feff}').unwrap_or(source);
    if has_forbidden_control(text.as_bytes()) {
        return None;
    }
    let (root, mut rest) = open_tag(skip_whitespace(text))?;
    let mut flat = FlatFields {
        source,
        root,
        fields: [("", ""); MAX_FIELDS],
        len: 0,
    };
    loop {
        rest = skip_whitespace(rest);
        if let Some(after) = close_tag(rest, root) {
            return is_xml_whitespace(after).then_some(flat);
        }
        let (name, after_open) = open_tag(rest)?;
        let (value, after_value) = match after_open.strip_prefix("<![CDATA[") {
            Some(cdata) => {
                let end = find_cdata_end(cdata.as_bytes())?;
                (&cdata[..end], &cdata[end + b"]]>".len()..])
            }
            None => {
                let end = memchr(b'<', after_open.as_bytes())?;
                let value = &after_open[..end];
                if !is_literal_text(value) {
                    return None;
                }
                (value, &after_open[end..])
            }
        };
        rest = close_tag(after_value, name)?;
        *flat.fields.get_mut(flat.len)? = (name, value);
        flat.len += 1;
    }
}

/// The tree of a flat document: a root called `root` holding one childless element a field.
pub(crate) fn flat_tree<'f>(
    root: &str,
    fields: impl Iterator<Item = (&'f str, &'f str)>,
) -> Element {
    Element {
        name: intern_name(root),
        text: String::new(),
        children: fields
            .map(|(name, text)| Element {
                name: intern_name(name),
                text: text.to_owned(),
                children: Vec::new(),
            })
            .collect(),
    }
}

/// `<name>` at the start of `s` with a simple name: the name and what follows the tag.
fn open_tag(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('<')?;
    let end = memchr(b'>', s.as_bytes())?;
    let name = &s[..end];
    is_simple_name(name.as_bytes()).then(|| (name, &s[end + 1..]))
}

/// `</name>` at the start of `s`: what follows it.
fn close_tag<'s>(s: &'s str, name: &str) -> Option<&'s str> {
    s.strip_prefix("</")?.strip_prefix(name)?.strip_prefix('>')
}

fn skip_whitespace(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\n', '\r'])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{parse_document, parse_str};
    use super::*;

    const ENVELOPE: &str = "<xml>\n    <ToUserName><![CDATA[gh_1]]></ToUserName>\n    <Encrypt><![CDATA[abc+/=]]></Encrypt>\n</xml>";

    #[test]
    fn the_envelope_is_read_in_place() {
        let flat = parse_flat(ENVELOPE.as_bytes(), XmlLimits::default()).unwrap();
        assert_eq!(flat.get("Encrypt"), Some("abc+/="));
        assert_eq!(flat.get("ToUserName"), Some("gh_1"));
        assert_eq!(flat.get("MsgType"), None);
        assert_eq!(flat.iter().count(), 2);
    }

    #[test]
    fn a_push_s_tree_is_built_from_its_fields() {
        let tree = parse_flat(ENVELOPE.as_bytes(), XmlLimits::default())
            .and_then(|flat| flat.build_tree())
            .unwrap();
        assert_eq!(Ok(tree.clone()), parse_str(ENVELOPE, 16));
        assert_eq!(tree.child("Encrypt").unwrap().text, "abc+/=");
        // A root without fields keeps its whitespace as text: the full reader builds that one.
        for doc in ["<xml>\n</xml>", "<xml></xml>"] {
            let flat = parse_flat(doc.as_bytes(), XmlLimits::default()).unwrap();
            assert_eq!(flat.build_tree(), None, "{doc}");
        }
        assert_eq!(
            parse_document(b"<xml>\n</xml>", XmlLimits::default())
                .unwrap()
                .text,
            "\n"
        );
    }

    #[test]
    fn anything_but_a_flat_document_is_left_to_the_full_reader() {
        for doc in [
            "<?xml version=\"1.0\"?><xml></xml>",
            "<xml><A><B>1</B></A></xml>",
            "<xml><A>x<![CDATA[y]]></A></xml>",
            "<xml><A> <![CDATA[y]]></A></xml>",
            "<xml><A>&lt;</A></xml>",
            "<xml><A>a]]>b</A></xml>",
            "<xml><A/></xml>",
            "<xml a=\"1\"><A>1</A></xml>",
            "<xml>text<A>1</A></xml>",
            "<xml><A>1</B></xml>",
            "<xml><A>1</A>",
            "<xml></xml><xml></xml>",
            "<xml></xml>x",
            "<!DOCTYPE x><xml></xml>",
            "<xml><A>\u{1}</A></xml>",
            "<xml><中>1</中></xml>",
        ] {
            assert_eq!(
                parse_flat(doc.as_bytes(), XmlLimits::default()),
                None,
                "{doc}"
            );
        }
        let many: String = (0..=MAX_FIELDS)
            .map(|i| format!("<F{i}>{i}</F{i}>"))
            .collect();
        assert_eq!(
            parse_flat(
                format!("<xml>{many}</xml>").as_bytes(),
                XmlLimits::default()
            ),
            None
        );
        let tight = XmlLimits {
            max_bytes: ENVELOPE.len() - 1,
            ..XmlLimits::default()
        };
        assert_eq!(parse_flat(ENVELOPE.as_bytes(), tight), None);
    }

    /// Pieces of flat and not-quite-flat documents.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => ("[A-Z][a-z]{0,3}", "[ a-z0-9+/=中]{0,6}").prop_map(|(n, t)| format!("<{n}>{t}</{n}>")),
            4 => ("[A-Z][a-z]{0,3}", "[ a-z\\]>中]{0,6}")
                .prop_map(|(n, t)| format!("<{n}><![CDATA[{}]]></{n}>", t.replace("]]>", ""))),
            2 => Just("\n  ".to_owned()),
            1 => Just("<A><B>1</B></A>".to_owned()),
            1 => Just("<A>1&amp;2</A>".to_owned()),
            1 => Just("<A/>".to_owned()),
            1 => Just("x".to_owned()),
            1 => Just("<A> <![CDATA[1]]> </A>".to_owned()),
            1 => Just("</A>".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Wherever the flat read answers, the full reader gives the same fields and nothing more.
        #[test]
        fn flat_read_agrees_with_the_full_reader(pieces in prop::collection::vec(piece(), 0..12), root in "xml|Root") {
            let doc = format!("<{root}>{}</{root}>", pieces.concat());
            if let Some(flat) = parse_flat(doc.as_bytes(), XmlLimits::default()) {
                let full = parse_document(doc.as_bytes(), XmlLimits::default()).unwrap();
                prop_assert_eq!(full.children.len(), flat.iter().count(), "{}", doc);
                for (child, (name, text)) in full.children.iter().zip(flat.iter()) {
                    prop_assert_eq!(&*child.name, name, "{}", doc);
                    prop_assert_eq!(&child.text, text, "{}", doc);
                    prop_assert!(child.children.is_empty(), "{}", doc);
                }
                // The tree built from the fields is the one quick-xml's events give.
                if let Some(tree) = flat.build_tree() {
                    prop_assert_eq!(Ok(tree), parse_str(&doc, XmlLimits::default().max_depth), "{}", doc);
                }
            }
        }

        /// Documents of only fields always take the flat read.
        #[test]
        fn flat_documents_take_the_flat_read(fields in prop::collection::vec(("[A-Z][a-z]{0,3}", "[ a-z0-9中]{0,6}", any::<bool>()), 0..MAX_FIELDS)) {
            let body: String = fields
                .iter()
                .map(|(n, t, cdata)| if *cdata { format!("<{n}><![CDATA[{t}]]></{n}>\n") } else { format!("<{n}>{t}</{n}>") })
                .collect();
            let doc = format!("<xml>{body}</xml>");
            prop_assert!(parse_flat(doc.as_bytes(), XmlLimits::default()).is_some(), "{}", doc);
        }
    }
}
