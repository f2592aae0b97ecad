//! Parse tests for the inbound model over real WeChat sample XML (tests/fixtures) and hostile input.

use wxoa_proto::crypto::MsgCrypt;
use wxoa_proto::event::{
    ArticleUrl, CopyrightCheck, CopyrightCheckItem, Event, PublishedArticle, SubscribeChangeItem,
    SubscribePopupItem, SubscribeSentItem,
};
use wxoa_proto::message::{Inbound, Kind, Message, ParseError};
use wxoa_proto::xml::{self, XmlError, XmlLimits};

fn parse(bytes: &[u8]) -> Inbound {
    match Inbound::parse(bytes, XmlLimits::default()) {
        Ok(inbound) => inbound,
        Err(err) => panic!("{err}\n{}", String::from_utf8_lossy(bytes)),
    }
}

fn message(bytes: &[u8]) -> Message {
    match parse(bytes).kind {
        Kind::Message(m) => m,
        Kind::Event(e) => panic!("expected a message, got {e:?}"),
    }
}

fn event(bytes: &[u8]) -> Event {
    match parse(bytes).kind {
        Kind::Event(e) => e,
        Kind::Message(m) => panic!("expected an event, got {m:?}"),
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// V1 of PROTOCOL.md §4.6 (official compatible-mode sample).
const V1_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const V1_APPID: &str = "wx2c2769f8efd9abc2";
const V1_ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";

// ------------------------------------------------------------------------------------------------
// ordinary messages (official "接收普通消息" samples, PROTOCOL.md §5)
// ------------------------------------------------------------------------------------------------

#[test]
fn text_message_header_accessors_and_numbers_as_text() {
    let m = parse(include_bytes!("fixtures/messages/text.xml"));
    assert_eq!(m.to_user_name, "toUser");
    assert_eq!(m.from_user_name, "fromUser");
    assert_eq!(m.create_time, 1_348_831_860);
    assert_eq!(m.msg_type, "text");
    assert_eq!(
        m.kind,
        Kind::Message(Message::Text {
            content: s("this is a test"),
            msg_id: Some(1_234_567_890_123_456),
            biz_msg_menu_id: None,
        })
    );
    assert_eq!(m.content(), Some("this is a test"));
    assert_eq!(m.msg_id(), Some(1_234_567_890_123_456));
    // The official sample has placeholder text where numbers go: kept raw, never an error.
    assert_eq!(m.field("Idx"), Some("xxxx"));
    assert_eq!(m.field("MsgDataId"), Some("xxxx"));
    assert_eq!(m.event_name(), None);
    assert_eq!(m.dedup_key(), "toUser|fromUser|1234567890123456");
    assert!(m.message().is_some() && m.event().is_none());
}

#[test]
fn text_message_with_msgmenu_id_and_big_msg_id() {
    // MsgId above 2^53 (PROTOCOL.md §11 #9) must survive exactly.
    assert_eq!(
        message(include_bytes!("fixtures/messages/text_bizmsgmenuid.xml")),
        Message::Text {
            content: s("满意"),
            msg_id: Some(6_054_768_590_064_713_728),
            biz_msg_menu_id: Some(101),
        }
    );
}

#[test]
fn image_message() {
    let m = parse(include_bytes!("fixtures/messages/image.xml"));
    assert_eq!(m.media_id(), Some("media_id"));
    assert_eq!(
        m.kind,
        Kind::Message(Message::Image {
            pic_url: s("this is a url"),
            media_id: s("media_id"),
            msg_id: Some(1_234_567_890_123_456),
        })
    );
}

#[test]
fn voice_message_with_and_without_recognition() {
    assert_eq!(
        message(include_bytes!("fixtures/messages/voice.xml")),
        Message::Voice {
            media_id: s("media_id"),
            format: s("Format"),
            media_id_16k: Some(s("media_id_16k")),
            recognition: Some(s("腾讯微信团队")),
            msg_id: Some(1_234_567_890_123_456),
        }
    );
    // Empty Recognition CDATA and a missing MediaId16K are both "absent".
    assert_eq!(
        message(include_bytes!("fixtures/messages/voice_no_recognition.xml")),
        Message::Voice {
            media_id: s("media_id"),
            format: s("amr"),
            media_id_16k: None,
            recognition: None,
            msg_id: Some(1_234_567_890_123_456),
        }
    );
}

#[test]
fn video_and_shortvideo_messages() {
    assert_eq!(
        message(include_bytes!("fixtures/messages/video.xml")),
        Message::Video {
            media_id: s("media_id"),
            thumb_media_id: s("thumb_media_id"),
            msg_id: Some(1_234_567_890_123_456),
        }
    );
    assert_eq!(
        message(include_bytes!("fixtures/messages/shortvideo.xml")),
        Message::ShortVideo {
            media_id: s("media_id"),
            thumb_media_id: s("thumb_media_id"),
            msg_id: Some(1_234_567_890_123_456),
        }
    );
}

#[test]
fn location_message_underscore_fields_are_floats() {
    assert_eq!(
        message(include_bytes!("fixtures/messages/location.xml")),
        Message::Location {
            latitude: Some(23.134_521),
            longitude: Some(113.358_803),
            scale: Some(20.0),
            label: s("位置信息"),
            msg_id: Some(1_234_567_890_123_456),
        }
    );
}

#[test]
fn link_message() {
    assert_eq!(
        message(include_bytes!("fixtures/messages/link.xml")),
        Message::Link {
            title: s("公众平台官网链接"),
            description: s("公众平台官网链接"),
            url: s("url"),
            msg_id: Some(1_234_567_890_123_456),
        }
    );
}

#[test]
fn miniprogrampage_message() {
    assert_eq!(
        message(include_bytes!("fixtures/messages/miniprogrampage.xml")),
        Message::MiniProgramPage {
            app_id: s("appid"),
            title: s("title"),
            page_path: s("path"),
            thumb_url: String::new(),
            thumb_media_id: String::new(),
            msg_id: Some(1_234_567_890_123_456),
        }
    );
}

#[test]
fn unknown_and_missing_msg_type() {
    let doc = b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
        <CreateTime>1</CreateTime><MsgType>device_text</MsgType><DeviceID>d</DeviceID></xml>";
    let m = parse(doc);
    assert_eq!(
        m.kind,
        Kind::Message(Message::Unknown {
            msg_type: s("device_text")
        })
    );
    assert_eq!(m.field("DeviceID"), Some("d"));

    let doc = b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName></xml>";
    let m = parse(doc);
    assert_eq!(m.msg_type, "");
    assert_eq!(m.create_time, 0);
    assert_eq!(
        m.kind,
        Kind::Message(Message::Unknown {
            msg_type: String::new()
        })
    );
}

#[test]
fn msg_type_matches_case_insensitively_but_is_kept_as_sent() {
    let doc = b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
        <MsgType>TEXT</MsgType><Content>hi</Content></xml>";
    let m = parse(doc);
    assert_eq!(m.msg_type, "TEXT");
    assert!(matches!(m.kind, Kind::Message(Message::Text { .. })));
}

// ------------------------------------------------------------------------------------------------
// events (PROTOCOL.md §6)
// ------------------------------------------------------------------------------------------------

#[test]
fn subscribe_plain_and_via_qr_code() {
    let plain = parse(include_bytes!("fixtures/events/subscribe.xml"));
    assert_eq!(
        plain.kind,
        Kind::Event(Event::Subscribe {
            event_key: None,
            ticket: None
        })
    );
    assert_eq!(plain.event_name(), Some("subscribe"));
    assert_eq!(plain.event_key(), None);
    assert_eq!(plain.msg_id(), None);
    assert_eq!(plain.dedup_key(), "toUser|FromUser|123456789|subscribe|");

    let qr = parse(include_bytes!("fixtures/events/subscribe_qrscene.xml"));
    assert_eq!(
        qr.kind,
        Kind::Event(Event::Subscribe {
            event_key: Some(s("qrscene_123123")),
            ticket: Some(s("TICKET")),
        })
    );
    // The prefix is kept by the accessor and stripped only by qr_scene().
    assert_eq!(qr.event_key(), Some("qrscene_123123"));
    assert_eq!(qr.event().and_then(Event::qr_scene), Some("123123"));
    assert_eq!(
        qr.dedup_key(),
        "toUser|FromUser|123456789|subscribe|qrscene_123123"
    );
}

#[test]
fn unsubscribe_scan_location_click() {
    assert_eq!(
        event(include_bytes!("fixtures/events/unsubscribe.xml")),
        Event::Unsubscribe
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/scan.xml")),
        Event::Scan {
            event_key: s("SCENE_VALUE"),
            ticket: Some(s("TICKET")),
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/location.xml")),
        Event::Location {
            latitude: Some(23.137_466),
            longitude: Some(113.352_425),
            precision: Some(119.385_04),
        }
    );
    let click = parse(include_bytes!("fixtures/events/click.xml"));
    assert_eq!(
        click.kind,
        Kind::Event(Event::Click {
            event_key: s("EVENTKEY")
        })
    );
    assert_eq!(
        click.dedup_key(),
        "toUser|FromUser|123456789|CLICK|EVENTKEY"
    );
}

#[test]
fn view_and_view_miniprogram_keep_menu_id_as_sent() {
    assert_eq!(
        event(include_bytes!("fixtures/events/view.xml")),
        Event::View {
            url: s("www.qq.com"),
            menu_id: Some(s("MENUID")),
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/view_miniprogram.xml")),
        Event::ViewMiniProgram {
            page_path: s("pages/index/index"),
            menu_id: Some(s("MENUID")),
        }
    );
}

#[test]
fn scancode_events() {
    assert_eq!(
        event(include_bytes!("fixtures/events/scancode_push.xml")),
        Event::ScancodePush {
            event_key: s("6"),
            scan_type: s("qrcode"),
            scan_result: s("1"),
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/scancode_waitmsg.xml")),
        Event::ScancodeWaitmsg {
            event_key: s("6"),
            scan_type: s("qrcode"),
            scan_result: s("2"),
        }
    );
}

#[test]
fn picture_events_always_give_a_vec() {
    assert_eq!(
        event(include_bytes!("fixtures/events/pic_sysphoto.xml")),
        Event::PicSysphoto {
            event_key: s("6"),
            count: Some(1),
            pic_md5_sums: vec![s("1b5f7c23b5bf75682a53e7b6d163e185")],
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/pic_photo_or_album.xml")),
        Event::PicPhotoOrAlbum {
            event_key: s("6"),
            count: Some(1),
            pic_md5_sums: vec![s("5a75aaca956d97be686719218f275c6b")],
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/pic_weixin.xml")),
        Event::PicWeixin {
            event_key: s("6"),
            count: Some(2),
            pic_md5_sums: vec![
                s("5a75aaca956d97be686719218f275c6b"),
                s("1b5f7c23b5bf75682a53e7b6d163e185"),
            ],
        }
    );
}

#[test]
fn location_select_numbers_in_cdata_and_empty_poiname() {
    // wechatpy's test expects Poiname None for the empty CDATA (PROTOCOL.md §11 #8); the label's
    // leading space is in the official sample and is kept.
    assert_eq!(
        event(include_bytes!("fixtures/events/location_select.xml")),
        Event::LocationSelect {
            event_key: s("6"),
            latitude: Some(23.0),
            longitude: Some(113.0),
            scale: Some(15.0),
            label: s(" 广州市海珠区客村艺苑路 106号"),
            poiname: None,
        }
    );
}

#[test]
fn template_send_job_finish_uses_msg_id_capital_d() {
    let ok = parse(include_bytes!("fixtures/events/templatesendjobfinish.xml"));
    assert_eq!(
        ok.kind,
        Kind::Event(Event::TemplateSendJobFinish {
            msg_id: Some(200_163_836),
            status: s("success"),
        })
    );
    assert_eq!(ok.msg_id(), Some(200_163_836));
    assert_eq!(
        event(include_bytes!(
            "fixtures/events/templatesendjobfinish_failed.xml"
        )),
        Event::TemplateSendJobFinish {
            msg_id: Some(200_163_841),
            status: s("failed: system failed"),
        }
    );
}

#[test]
fn mass_send_job_finish_with_nested_lists() {
    let item = |idx, url: &str| CopyrightCheckItem {
        article_idx: Some(idx),
        user_declare_state: Some(0),
        audit_state: Some(2),
        original_article_url: Some(s(url)),
        original_article_type: Some(1),
        can_reprint: Some(1),
        need_replace_content: Some(1),
        need_show_reprint_source: Some(1),
    };
    assert_eq!(
        event(include_bytes!("fixtures/events/masssendjobfinish.xml")),
        Event::MassSendJobFinish {
            msg_id: Some(1_000_001_625),
            status: s("err(30003)"),
            total_count: Some(0),
            filter_count: Some(0),
            sent_count: Some(0),
            error_count: Some(0),
            copyright_check: Some(CopyrightCheck {
                count: Some(2),
                results: vec![item(1, "Url_1"), item(2, "Url_2")],
                check_state: Some(2),
            }),
            article_urls: vec![ArticleUrl {
                article_idx: Some(1),
                article_url: s("Url"),
            }],
        }
    );
}

#[test]
fn publish_job_finish_success_and_failure() {
    assert_eq!(
        event(include_bytes!("fixtures/events/publishjobfinish.xml")),
        Event::PublishJobFinish {
            publish_id: Some(s("2247503051")),
            publish_status: Some(0),
            article_id: Some(s("b5O2OUs25HBxRceL7hfReg-U9QGeq9zQjiDvyWP4Hq4")),
            articles: vec![PublishedArticle {
                idx: Some(1),
                article_url: s("ARTICLE_URL"),
            }],
            fail_idx: vec![],
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/publishjobfinish_fail.xml")),
        Event::PublishJobFinish {
            publish_id: Some(s("2247503051")),
            publish_status: Some(2),
            article_id: None,
            articles: vec![],
            fail_idx: vec![1, 2],
        }
    );
}

#[test]
fn subscription_message_events_one_or_many_lists() {
    assert_eq!(
        event(include_bytes!(
            "fixtures/events/subscribe_msg_popup_event.xml"
        )),
        Event::SubscribeMsgPopup {
            items: vec![
                SubscribePopupItem {
                    template_id: s("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"),
                    subscribe_status: s("accept"),
                    popup_scene: Some(2),
                },
                SubscribePopupItem {
                    template_id: s("9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI"),
                    subscribe_status: s("reject"),
                    popup_scene: Some(2),
                },
            ],
        }
    );
    assert_eq!(
        event(include_bytes!(
            "fixtures/events/subscribe_msg_change_event.xml"
        )),
        Event::SubscribeMsgChange {
            items: vec![SubscribeChangeItem {
                template_id: s("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"),
                subscribe_status: s("reject"),
            }],
        }
    );
    let sent = parse(include_bytes!(
        "fixtures/events/subscribe_msg_sent_event.xml"
    ));
    assert_eq!(
        sent.kind,
        Kind::Event(Event::SubscribeMsgSent {
            items: vec![SubscribeSentItem {
                template_id: s("VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc"),
                msg_id: Some(1_700_827_132_819_554_304),
                error_code: Some(0),
                error_status: s("success"),
            }],
        })
    );
    // The nested MsgID is not the push's own.
    assert_eq!(sent.msg_id(), None);
}

#[test]
fn verification_events() {
    assert_eq!(
        event(include_bytes!(
            "fixtures/events/qualification_verify_success.xml"
        )),
        Event::QualificationVerifySuccess {
            expired_time: Some(1_442_401_156)
        }
    );
    assert_eq!(
        event(include_bytes!(
            "fixtures/events/qualification_verify_fail.xml"
        )),
        Event::QualificationVerifyFail {
            fail_time: Some(1_442_401_122),
            fail_reason: s("by time"),
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/naming_verify_success.xml")),
        Event::NamingVerifySuccess {
            expired_time: Some(1_442_401_093)
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/naming_verify_fail.xml")),
        Event::NamingVerifyFail {
            fail_time: Some(1_442_401_061),
            fail_reason: s("by time"),
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/annual_renew.xml")),
        Event::AnnualRenew {
            expired_time: Some(1_442_401_004)
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/verify_expired.xml")),
        Event::VerifyExpired {
            expired_time: Some(1_442_400_900)
        }
    );
}

#[test]
fn customer_service_session_events() {
    assert_eq!(
        event(include_bytes!("fixtures/events/kf_create_session.xml")),
        Event::KfCreateSession {
            kf_account: s("test1@test")
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/kf_close_session.xml")),
        Event::KfCloseSession {
            kf_account: s("test1@test")
        }
    );
    assert_eq!(
        event(include_bytes!("fixtures/events/kf_switch_session.xml")),
        Event::KfSwitchSession {
            from_kf_account: s("test1@test"),
            to_kf_account: s("test2@test"),
        }
    );
}

#[test]
fn card_event_keeps_its_fields_in_the_root() {
    let card = parse(include_bytes!("fixtures/events/user_get_card.xml"));
    assert_eq!(
        card.kind,
        Kind::Event(Event::Card {
            event: s("user_get_card")
        })
    );
    assert_eq!(card.field("UserCardCode"), Some("226009850808"));
    assert_eq!(card.field("FriendUserName"), None);
}

#[test]
fn unknown_event_keeps_name_and_fields() {
    let wifi = parse(include_bytes!("fixtures/events/wifi_connected.xml"));
    assert_eq!(
        wifi.kind,
        Kind::Event(Event::Unknown {
            event: s("WifiConnected")
        })
    );
    assert_eq!(wifi.field("VendorId"), Some("3001224419"));
}

#[test]
fn event_names_match_case_insensitively() {
    for (name, expected) in [
        ("SUBSCRIBE", "Subscribe"),
        ("scan", "Scan"),
        ("Location", "Location"),
        ("click", "Click"),
        ("TemplateSendJobFinish", "TemplateSendJobFinish"),
        ("KF_CREATE_SESSION", "KfCreateSession"),
    ] {
        let doc = format!(
            "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
             <MsgType>EVENT</MsgType><Event>{name}</Event></xml>"
        );
        let e = event(doc.as_bytes());
        assert!(format!("{e:?}").starts_with(expected), "{name} gave {e:?}");
    }
}

/// Every fixture parses, and only the intended ones fall back to `Unknown`.
#[test]
fn every_fixture_parses_to_a_typed_variant() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut seen = 0;
    for dir in ["messages", "events"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let inbound = parse(&bytes);
            let unknown = matches!(
                inbound.kind,
                Kind::Message(Message::Unknown { .. }) | Kind::Event(Event::Unknown { .. })
            );
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(unknown, name == "wifi_connected.xml", "{name}");
            assert_eq!(dir == "events", inbound.event().is_some(), "{name}");
            seen += 1;
        }
    }
    assert!(seen >= 43, "only {seen} fixtures found");
}

// ------------------------------------------------------------------------------------------------
// encryption modes (PROTOCOL.md §2.2, §4.6 V1)
// ------------------------------------------------------------------------------------------------

#[test]
fn compat_body_has_plaintext_fields_and_encrypt() {
    let body = include_bytes!("fixtures/modes/compat_text.xml");
    let m = parse(body);
    assert_eq!(
        m.kind,
        Kind::Message(Message::Text {
            content: s("abcdteT"),
            msg_id: Some(6_054_768_590_064_713_728),
            biz_msg_menu_id: None,
        })
    );
    assert_eq!(m.field("Encrypt"), Some(V1_ENCRYPT));

    // The encrypted copy decrypts to the same message.
    let crypt = MsgCrypt::new(V1_KEY, V1_APPID).unwrap();
    let inner = crypt.decrypt(m.field("Encrypt").unwrap()).unwrap();
    assert_eq!(
        inner.as_slice(),
        include_bytes!("fixtures/modes/compat_decrypted.xml")
    );
    let decrypted = parse(&inner);
    assert_eq!(decrypted.kind, m.kind);
    assert_eq!(decrypted.dedup_key(), m.dedup_key());
    assert_eq!(decrypted.field("Encrypt"), None);
}

#[test]
fn safe_envelope_exposes_encrypt_but_is_not_a_message() {
    let body = include_bytes!("fixtures/modes/safe_envelope.xml");
    let root = xml::parse_document(body, XmlLimits::default()).unwrap();
    assert_eq!(root.name, "xml");
    assert_eq!(root.child_text("ToUserName"), Some("gh_10f6c3c3ac5a"));
    assert_eq!(root.child_text("Encrypt"), Some(V1_ENCRYPT));
    assert_eq!(root.child("MsgType"), None);

    // The caller must open the envelope first: it has no FromUserName (WeRoBot#81's crash).
    assert_eq!(
        Inbound::parse(body, XmlLimits::default()),
        Err(ParseError::MissingField("FromUserName"))
    );

    let crypt = MsgCrypt::new(V1_KEY, V1_APPID).unwrap();
    let inner = parse(&crypt.decrypt(root.child_text("Encrypt").unwrap()).unwrap());
    assert_eq!(inner.to_user_name, "gh_10f6c3c3ac5a");
    assert_eq!(inner.content(), Some("abcdteT"));
}

#[test]
fn third_party_platform_push_is_a_missing_field_not_a_panic() {
    // component_verify_ticket pushes have no ToUserName/MsgType (wechatpy#630).
    let body = include_bytes!("fixtures/modes/third_party_component_ticket.xml");
    assert_eq!(
        Inbound::parse(body, XmlLimits::default()),
        Err(ParseError::MissingField("ToUserName"))
    );
    let root = xml::parse_document(body, XmlLimits::default()).unwrap();
    assert_eq!(root.child_text("InfoType"), Some("component_verify_ticket"));
}

// ------------------------------------------------------------------------------------------------
// leniency: numbers as text, missing optionals, extra fields, formatting
// ------------------------------------------------------------------------------------------------

#[test]
fn numbers_are_parsed_leniently() {
    let doc = b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
        <CreateTime><![CDATA[ 1409735668 ]]></CreateTime><MsgType>location</MsgType>\
        <Location_X>north</Location_X><Location_Y> 113.5\n</Location_Y><Scale>NaN</Scale>\
        <MsgId>-1</MsgId></xml>";
    let m = parse(doc);
    assert_eq!(m.create_time, 1_409_735_668);
    assert_eq!(
        m.kind,
        Kind::Message(Message::Location {
            latitude: None,
            longitude: Some(113.5),
            scale: None,
            label: String::new(),
            msg_id: None,
        })
    );
    assert_eq!(m.msg_id(), None);
    assert_eq!(m.dedup_key(), "gh|o|1409735668|location");
}

#[test]
fn msg_id_and_msg_id_capital_d_are_both_read() {
    let doc = b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
        <MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event><MsgID>1000001625</MsgID></xml>";
    let m = parse(doc);
    assert_eq!(m.msg_id(), Some(1_000_001_625));
    match m.kind {
        Kind::Event(Event::MassSendJobFinish {
            msg_id,
            copyright_check,
            article_urls,
            total_count,
            ..
        }) => {
            assert_eq!(msg_id, Some(1_000_001_625));
            assert_eq!(copyright_check, None);
            assert!(article_urls.is_empty());
            assert_eq!(total_count, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_optional_and_required_body_fields_do_not_fail() {
    let doc = b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
        <MsgType>image</MsgType></xml>";
    assert_eq!(
        message(doc),
        Message::Image {
            pic_url: String::new(),
            media_id: String::new(),
            msg_id: None,
        }
    );
    let doc = b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
        <MsgType>event</MsgType><Event>scancode_push</Event></xml>";
    assert_eq!(
        event(doc),
        Event::ScancodePush {
            event_key: String::new(),
            scan_type: String::new(),
            scan_result: String::new(),
        }
    );
}

#[test]
fn extra_fields_attributes_comments_and_declaration_are_tolerated() {
    let doc = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- pushed -->\n\
        <xml lang=\"zh\"><ToUserName><![CDATA[gh]]></ToUserName><FromUserName>o</FromUserName>\
        <MsgType>text</MsgType><Content><![CDATA[a]]></Content><AgentID>1</AgentID>\
        <Nested><Deep><Deeper>x</Deeper></Deep></Nested><?pi data?></xml>\n";
    let m = parse(doc.as_bytes());
    assert_eq!(m.content(), Some("a"));
    assert_eq!(m.field("AgentID"), Some("1"));
    let deeper = m
        .root()
        .child("Nested")
        .and_then(|n| n.child("Deep"))
        .and_then(|d| d.child_text("Deeper"));
    assert_eq!(deeper, Some("x"));
}

#[test]
fn content_is_kept_exactly_as_sent() {
    let doc = "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
        <MsgType>text</MsgType><Content><![CDATA[  two\r\nlines & <b>not a tag</b>  ]]></Content></xml>";
    assert_eq!(
        parse(doc.as_bytes()).content(),
        Some("  two\r\nlines & <b>not a tag</b>  ")
    );
    // Escaped text (silenceper-style, no CDATA) decodes to the same thing.
    let doc = "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>\
        <MsgType>text</MsgType><Content> a &amp; &lt;b&gt; &#x1F600;&#20013; </Content></xml>";
    assert_eq!(parse(doc.as_bytes()).content(), Some(" a & <b> 😀中 "));
}

#[test]
fn control_characters_are_removed_from_text_and_cdata() {
    // WeChat passes C0 controls through (offu/WeRoBot#809); XML 1.0 forbids them.
    let doc = "<xml>\u{1}<ToUserName>gh</ToUserName><FromUserName>o\u{0}</FromUserName>\
        <MsgType>text</MsgType><Content><![CDATA[a\u{8}b\u{1b}[0mc\td]]></Content>\
        <MsgId>1\u{7}2</MsgId></xml>";
    let m = parse(doc.as_bytes());
    assert_eq!(m.from_user_name, "o");
    assert_eq!(
        m.kind,
        Kind::Message(Message::Text {
            content: s("ab[0mc\td"),
            msg_id: Some(12),
            biz_msg_menu_id: None,
        })
    );
}

// ------------------------------------------------------------------------------------------------
// hostile input
// ------------------------------------------------------------------------------------------------

#[test]
fn doctype_is_rejected_xxe_and_billion_laughs() {
    let xxe = b"<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
        <xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><Content>&xxe;</Content></xml>";
    assert_eq!(
        Inbound::parse(xxe, XmlLimits::default()),
        Err(ParseError::Xml(XmlError::Doctype))
    );
    let laughs = b"<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><xml>&lol2;</xml>";
    assert_eq!(
        xml::parse_document(laughs, XmlLimits::default()),
        Err(XmlError::Doctype)
    );
    // Without a DOCTYPE an undeclared entity is simply malformed.
    let undeclared = b"<xml><Content>&xxe;</Content></xml>";
    assert!(matches!(
        xml::parse_document(undeclared, XmlLimits::default()),
        Err(XmlError::Malformed { .. })
    ));
}

#[test]
fn depth_limit() {
    let nested = |depth: usize| {
        let mut doc = String::new();
        for i in 0..depth {
            doc.push_str(&format!("<e{i}>"));
        }
        for i in (0..depth).rev() {
            doc.push_str(&format!("</e{i}>"));
        }
        doc
    };
    let limits = XmlLimits::default();
    assert_eq!(limits.max_depth, 16);
    assert!(xml::parse_document(nested(16).as_bytes(), limits).is_ok());
    assert_eq!(
        xml::parse_document(nested(17).as_bytes(), limits),
        Err(XmlError::TooDeep { max: 16 })
    );
    // Deep nesting is refused before the rest of the document is read.
    assert_eq!(
        xml::parse_document(&b"<a>".repeat(100_000), limits),
        Err(XmlError::TooDeep { max: 16 })
    );
}

#[test]
fn size_limit() {
    let limits = XmlLimits::default();
    assert_eq!(limits.max_bytes, 1024 * 1024);
    let mut big = b"<xml><Content>".to_vec();
    big.resize(1024 * 1024 - b"</Content></xml>".len(), b'a');
    big.extend_from_slice(b"</Content></xml>");
    assert_eq!(big.len(), 1024 * 1024);
    assert!(xml::parse_document(&big, limits).is_ok());
    big.insert(10, b' ');
    assert_eq!(
        xml::parse_document(&big, limits),
        Err(XmlError::TooLarge {
            len: 1024 * 1024 + 1,
            max: 1024 * 1024
        })
    );
    let small = XmlLimits {
        max_bytes: 8,
        max_depth: 4,
    };
    assert_eq!(
        Inbound::parse(b"<xml>123</xml>", small),
        Err(ParseError::Xml(XmlError::TooLarge { len: 14, max: 8 }))
    );
}

#[test]
fn structural_errors() {
    let limits = XmlLimits::default();
    assert_eq!(xml::parse_document(b"", limits), Err(XmlError::Empty));
    assert_eq!(
        xml::parse_document(b"<xml>\xC0\xAF</xml>", limits),
        Err(XmlError::NotUtf8)
    );
    for bad in [
        &b"<xml><a></xml>"[..],
        b"<xml><a>1</a>",
        b"<xml/><xml/>",
        b"<xml></xml>trailing",
        b"</xml>",
        b"<xml><a>1 & 2</a></xml>",
    ] {
        assert!(
            matches!(
                xml::parse_document(bad, limits),
                Err(XmlError::Malformed { .. })
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        Inbound::parse(b"<message/>", limits),
        Err(ParseError::NotXmlRoot {
            found: s("message")
        })
    );
}

#[test]
fn error_messages_are_specific() {
    assert_eq!(
        ParseError::MissingField("FromUserName").to_string(),
        "push has no <FromUserName>; a safe-mode envelope must be decrypted before it is parsed as a message"
    );
    assert!(
        XmlError::TooLarge { len: 10, max: 5 }
            .to_string()
            .contains("10 bytes")
    );
}
