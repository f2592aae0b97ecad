//! The fast path of the XML reader: a tokenizer for the shape every push has (elements without
//! attributes, text without entity references, CDATA sections), feeding the same element
//! builder as the full reader. Anything else makes it give up, and the full reader decides.

use std::borrow::Cow;

use memchr::memchr;

use super::{Element, Frame, close, find_cdata_end, intern_name, is_xml_whitespace, open};

/// Parse `src` if it only uses the common subset of XML; `None` when it uses anything else
/// (a declaration, comments, attributes, entity references, empty-element tags, unusual names)
/// or is not well-formed, so the full reader can parse it or say exactly what is wrong.
///
/// Where it answers, the result is the one the full reader gives: the token stream it feeds to
/// [`Frame`] is the one quick-xml produces for the same input.
pub(super) fn parse_simple(src: &str, max_depth: usize) -> Option<Element> {
    let bytes = src.as_bytes();
    let mut stack: Vec<Frame<'_>> = Vec::with_capacity(4);
    let mut root: Option<Element> = None;
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes[pos] != b'<' {
            let end = memchr(b'<', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
            let text = &src[pos..end];
            if !is_literal_text(text) {
                return None;
            }
            match stack.last_mut() {
                Some(frame) => frame.text(Cow::Borrowed(text)),
                None if is_xml_whitespace(text) => {}
                None => return None,
            }
            pos = end;
            continue;
        }
        let rest = &bytes[pos + 1..];
        match rest.first()? {
            b'/' => {
                let len = memchr(b'>', rest)?;
                let name = &src[pos + 2..pos + 1 + len];
                if stack.last()?.element.name != name {
                    return None;
                }
                close(&mut stack, &mut root).ok()?;
                pos += len + 2;
            }
            b'!' => {
                if !rest.starts_with(b"![CDATA[") {
                    return None;
                }
                let start = pos + 1 + b"![CDATA[".len();
                let len = find_cdata_end(&bytes[start..])?;
                stack
                    .last_mut()?
                    .cdata(Cow::Borrowed(&src[start..start + len]));
                pos = start + len + b"]]>".len();
            }
            _ => {
                let len = memchr(b'>', rest)?;
                let name = &rest[..len];
                if !is_simple_name(name) {
                    return None;
                }
                open(
                    &mut stack,
                    &root,
                    intern_name(&src[pos + 1..pos + 1 + len]),
                    max_depth,
                )
                .ok()?;
                pos += len + 2;
            }
        }
    }
    if stack.is_empty() { root } else { None }
}

/// Whether character data reads as written: no entity or character references to decode, and
/// no `]]>` (which is not allowed outside CDATA).
pub(super) fn is_literal_text(text: &str) -> bool {
    memchr(b'&', text.as_bytes()).is_none() && find_cdata_end(text.as_bytes()).is_none()
}

/// An ASCII name as pushes use: a letter or `_` first, then letters, digits, `_`, `-`, `.`.
pub(super) fn is_simple_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::parse_str;
    use super::*;

    const PUSH: &str = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>\n<FromUserName><![CDATA[oU]]></FromUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId></xml>";

    #[test]
    fn a_push_takes_the_fast_path_and_matches_the_full_reader() {
        let fast = parse_simple(PUSH, 16).expect("a plain push is in the simple subset");
        assert_eq!(Ok(fast.clone()), parse_str(PUSH, 16));
        assert_eq!(fast.child("Content").unwrap().text, "this is a test");
        assert_eq!(fast.children.len(), 6);
    }

    #[test]
    fn anything_outside_the_subset_is_left_to_the_full_reader() {
        for doc in [
            "<?xml version=\"1.0\"?><xml></xml>",
            "<xml><!-- c --></xml>",
            "<xml a=\"1\"></xml>",
            "<xml><A/></xml>",
            "<xml><A>&lt;</A></xml>",
            "<xml><A>x]]>y</A></xml>",
            "<xml></xml >",
            "<xml><A></B></xml>",
            "<xml>",
            "<a></a><b></b>",
            "x<a></a>",
            "<!DOCTYPE x><xml></xml>",
            "<xml><中>1</中></xml>",
        ] {
            assert_eq!(parse_simple(doc, 16), None, "{doc}");
        }
        assert_eq!(parse_simple("<a><b><c></c></b></a>", 2), None);
    }

    /// Pieces of pushes, well-formed or not, for the differential test.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("<xml>".to_owned()),
            Just("</xml>".to_owned()),
            Just("<A>".to_owned()),
            Just("</A>".to_owned()),
            Just("<B_1.x-y>".to_owned()),
            Just("</B_1.x-y>".to_owned()),
            Just("<A/>".to_owned()),
            Just(" ".to_owned()),
            Just("\n\t ".to_owned()),
            Just("\r\n".to_owned()),
            Just("&amp;".to_owned()),
            Just("&#20013;".to_owned()),
            Just("<!-- c -->".to_owned()),
            Just("]]>".to_owned()),
            Just(">".to_owned()),
            Just("<".to_owned()),
            "[ a-z0-9中文]{0,6}".prop_map(|t| t),
            "[ a-z\\]<>&中]{0,6}".prop_map(|t| format!("<![CDATA[{}]]>", t.replace("]]>", ""))),
        ]
    }

    /// Well-formed trees of elements, text, whitespace and CDATA, with the odd piece from
    /// outside the subset mixed in.
    fn tree() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            4 => "[ a-z0-9中]{0,5}",
            2 => "[ \\n\\t\\r]{1,3}",
            3 => "[ a-z\\]>中]{0,5}".prop_map(|t| format!("<![CDATA[{}]]>", t.replace("]]>", ""))),
            1 => piece(),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            ("[A-Z][a-z]{0,3}", prop::collection::vec(inner, 0..6))
                .prop_map(|(name, body)| format!("<{name}>{}</{name}>", body.concat()))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The same, over mostly well-formed trees (most of which take the fast path).
        #[test]
        fn fast_path_agrees_on_trees(body in prop::collection::vec(tree(), 0..6), ws in "[ \\n]{0,2}") {
            let doc = format!("{ws}<xml>{}</xml>{ws}", body.concat());
            if let Some(fast) = parse_simple(&doc, 5) {
                prop_assert_eq!(Ok(fast), parse_str(&doc, 5), "{}", doc);
            }
        }

        /// Wherever the fast path answers, it answers exactly what the full reader does.
        #[test]
        fn fast_path_agrees_with_the_full_reader(pieces in prop::collection::vec(piece(), 0..24)) {
            let doc = pieces.concat();
            if let Some(fast) = parse_simple(&doc, 4) {
                prop_assert_eq!(Ok(fast), parse_str(&doc, 4), "{}", doc);
            }
        }

        /// Well-formed documents of the subset always take the fast path.
        #[test]
        fn subset_documents_take_the_fast_path(
            fields in prop::collection::vec(("[A-Z][a-zA-Z]{0,8}", "[ a-z0-9中文]{0,8}", any::<bool>()), 0..8),
        ) {
            let mut doc = String::from("<xml>");
            for (name, text, cdata) in &fields {
                if *cdata {
                    doc.push_str(&format!("<{name}><![CDATA[{text}]]></{name}>\n"));
                } else {
                    doc.push_str(&format!("<{name}>{text}</{name}>"));
                }
            }
            doc.push_str("</xml>");
            let fast = parse_simple(&doc, 4);
            prop_assert!(fast.is_some(), "{}", doc);
            prop_assert_eq!(Ok(fast.unwrap()), parse_str(&doc, 4));
        }
    }
}
