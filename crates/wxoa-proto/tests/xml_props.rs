//! Property tests: reply render → parse round trips, the reader never panics, text splitting.

use proptest::prelude::*;
use wxoa_proto::limits::MAX_TEXT_REPLY_BYTES;
use wxoa_proto::message::{Inbound, Kind, Message};
use wxoa_proto::reply::Reply;
use wxoa_proto::xml::{self, XmlLimits, strip_control_chars};

/// Strings mixing arbitrary chars with the fragments that break naive XML writers.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("]]>".to_owned()),
        Just("]]".to_owned()),
        Just("]".to_owned()),
        Just(">".to_owned()),
        Just("<".to_owned()),
        Just("&".to_owned()),
        Just("&amp;".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("</Content>".to_owned()),
        Just("中文".to_owned()),
        Just("😀".to_owned()),
        Just(" ".to_owned()),
        Just("\r\n".to_owned()),
        Just("\t".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{1b}".to_owned()),
        "[a-z]{1,8}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn text_of(inbound: &Inbound) -> &str {
    match &inbound.kind {
        Kind::Message(Message::Text { content, .. }) => content,
        other => panic!("not a text message: {other:?}"),
    }
}

/// Minimal XML text escaping, as a non-CDATA writer (e.g. Go's encoding/xml) would do.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_reply_round_trips(content in tricky_text(), to in "[A-Za-z0-9_-]{1,28}") {
        let xml = Reply::text(content.clone()).to_xml(&to, "gh_abc", 1_700_000_000);
        let back = Inbound::parse(xml.as_bytes(), XmlLimits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        let expected = strip_control_chars(&content);
        prop_assert_eq!(text_of(&back), expected.as_ref());
        prop_assert_eq!(&back.to_user_name, &to);
        prop_assert_eq!(back.create_time, 1_700_000_000);
        // The rendered reply is one well-formed document without forbidden controls.
        prop_assert!(!xml.bytes().any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')));
    }

    #[test]
    fn arbitrary_unicode_text_round_trips(content in any::<String>()) {
        let xml = Reply::text(content.clone()).to_xml("o", "gh", 0);
        let back = Inbound::parse(xml.as_bytes(), XmlLimits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        let expected = strip_control_chars(&content);
        prop_assert_eq!(text_of(&back), expected.as_ref());
    }

    #[test]
    fn escaped_text_round_trips(content in tricky_text()) {
        // Same content written as escaped text instead of CDATA.
        let doc = format!(
            "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
             <MsgType>text</MsgType><Content>{}</Content></xml>",
            escape(&content)
        );
        let back = Inbound::parse(doc.as_bytes(), XmlLimits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}: {doc}")))?;
        let expected = strip_control_chars(&content);
        prop_assert_eq!(text_of(&back), expected.as_ref());
    }

    #[test]
    fn a_written_push_reads_back_to_the_same_tree(content in tricky_text(), key in "[ -~]{0,40}") {
        let doc = format!(
            "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
             <MsgType>text</MsgType><Content>{}</Content><EventKey><![CDATA[{}]]></EventKey></xml>",
            escape(&content),
            xml::cdata_body(&key)
        );
        let tree = xml::parse_document(doc.as_bytes(), XmlLimits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}: {doc}")))?;
        let written = xml::to_document(&tree);
        let again = xml::parse_document(written.as_bytes(), XmlLimits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}: {written}")))?;
        prop_assert_eq!(again, tree);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Inbound::parse(&bytes, XmlLimits::default());
        let _ = xml::parse_document(&bytes, XmlLimits { max_bytes: 256, max_depth: 3 });
    }

    #[test]
    fn parse_never_panics_on_mutated_pushes(
        position in 0usize..400,
        insert in prop::collection::vec(
            prop_oneof![
                Just(b'<'), Just(b'>'), Just(b'&'), Just(b'/'), Just(b'!'), Just(b'['),
                Just(b']'), Just(b'#'), Just(b';'), Just(0u8), Just(0xFFu8), any::<u8>()
            ],
            1..8,
        ),
        cut in 0usize..400,
    ) {
        let base: &[u8] = include_bytes!("fixtures/events/masssendjobfinish.xml");
        let mut bytes = base.to_vec();
        let at = position.min(bytes.len());
        bytes.splice(at..at, insert);
        bytes.truncate(bytes.len() - cut.min(bytes.len()));
        let _ = Inbound::parse(&bytes, XmlLimits::default());
    }

    #[test]
    fn prepare_splits_on_char_boundaries_and_concatenates_back(
        chars in prop::collection::vec(
            prop_oneof![any::<char>(), Just('a'), Just('中'), Just('😀'), Just('é')],
            1..1500,
        )
    ) {
        let original: String = chars.into_iter().collect();
        let prepared = Reply::text(original.clone()).prepare()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Reply::Text { content: head } = prepared.reply else {
            return Err(TestCaseError::fail("prepare changed the reply type"));
        };
        prop_assert!(head.len() <= MAX_TEXT_REPLY_BYTES);
        match &prepared.overflow {
            None => prop_assert_eq!(&head, &original),
            Some(rest) => {
                prop_assert!(original.len() > MAX_TEXT_REPLY_BYTES);
                prop_assert!(!rest.is_empty());
                // The cut is as late as possible: the next char would not have fit.
                let next = rest.chars().next().map_or(0, char::len_utf8);
                prop_assert!(head.len() + next > MAX_TEXT_REPLY_BYTES);
                prop_assert_eq!(format!("{head}{rest}"), original);
            }
        }
    }
}
