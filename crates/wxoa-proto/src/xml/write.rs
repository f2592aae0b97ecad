//! Writing an [`Element`] tree back out as a document that [`parse_document`] reads to the same
//! tree (used to keep a push in a store and read it again on another instance).
//!
//! [`parse_document`]: super::parse_document

use super::{Element, cdata_body};

/// The document for `root`: each element's text in one CDATA section (nothing to escape
/// except `]]>`, which is split), its children after it, no declaration, no whitespace.
#[must_use]
pub fn to_document(root: &Element) -> String {
    let mut out = String::with_capacity(256);
    write_element(root, &mut out);
    out
}

fn write_element(element: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&element.name);
    out.push('>');
    if !element.text.is_empty() {
        out.push_str("<![CDATA[");
        out.push_str(&cdata_body(&element.text));
        out.push_str("]]>");
    }
    for child in &element.children {
        write_element(child, out);
    }
    out.push_str("</");
    out.push_str(&element.name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{XmlLimits, parse_document};

    #[test]
    fn a_push_reads_back_to_the_same_tree() {
        let sent = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName>o&amp;1</FromUserName>\
                    <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                    <Content><![CDATA[a ]]]]><![CDATA[> b <c> 你好]]></Content><MsgId>42</MsgId>\
                    <Empty></Empty><Nested><Item><Title>t</Title></Item><Item/></Nested></xml>";
        let tree = parse_document(sent.as_bytes(), XmlLimits::default()).unwrap();
        let written = to_document(&tree);
        let again = parse_document(written.as_bytes(), XmlLimits::default()).unwrap();
        assert_eq!(again, tree, "{written}");
        assert!(written.contains("<Content><![CDATA[a ]]]]><![CDATA[> b <c> 你好]]></Content>"));
    }

    #[test]
    fn whitespace_only_text_survives() {
        let tree =
            parse_document(b"<xml><A><![CDATA[ ]]></A></xml>", XmlLimits::default()).unwrap();
        let again = parse_document(to_document(&tree).as_bytes(), XmlLimits::default()).unwrap();
        assert_eq!(again, tree);
    }
}
