//! Golden bytes of every passive reply type (PROTOCOL.md §7.1) and the rules of `Reply::prepare`.

use wxoa_proto::limits::{MAX_NEWS_ARTICLES, MAX_TEXT_REPLY_BYTES};
use wxoa_proto::message::{Inbound, Kind, Message};
use wxoa_proto::reply::{Article, Prepared, Reply, ReplyError, SUCCESS};
use wxoa_proto::xml::XmlLimits;

const HEAD: &str = "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>12345678</CreateTime>";

fn render(reply: &Reply) -> String {
    reply.to_xml("toUser", "fromUser", 12_345_678)
}

fn golden(msg_type: &str, body: &str) -> String {
    format!("{HEAD}<MsgType><![CDATA[{msg_type}]]></MsgType>{body}</xml>")
}

fn article(title: &str, description: &str, pic_url: &str, url: &str) -> Article {
    Article {
        title: title.to_owned(),
        description: description.to_owned(),
        pic_url: pic_url.to_owned(),
        url: url.to_owned(),
    }
}

#[test]
fn text() {
    assert_eq!(
        render(&Reply::text("你好")),
        golden("text", "<Content><![CDATA[你好]]></Content>")
    );
    // The official sample, byte for byte (one line).
    assert_eq!(
        render(&Reply::text("你好")),
        "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>12345678</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>"
    );
}

#[test]
fn text_with_cdata_terminator_markup_and_newlines() {
    assert_eq!(
        render(&Reply::text("a]]>b <a href=\"x\">&</a>\nc]]>")),
        golden(
            "text",
            "<Content><![CDATA[a]]]]><![CDATA[>b <a href=\"x\">&</a>\nc]]]]><![CDATA[>]]></Content>"
        )
    );
}

#[test]
fn text_with_control_characters_stripped() {
    assert_eq!(
        render(&Reply::text("a\u{0}b\u{1b}c\td\r\n")),
        golden("text", "<Content><![CDATA[abc\td\r\n]]></Content>")
    );
}

#[test]
fn empty_text_renders_empty_cdata() {
    assert_eq!(
        render(&Reply::text("")),
        golden("text", "<Content><![CDATA[]]></Content>")
    );
}

#[test]
fn image_and_voice() {
    assert_eq!(
        render(&Reply::Image {
            media_id: "media_id".to_owned()
        }),
        golden(
            "image",
            "<Image><MediaId><![CDATA[media_id]]></MediaId></Image>"
        )
    );
    assert_eq!(
        render(&Reply::Voice {
            media_id: "media_id".to_owned()
        }),
        golden(
            "voice",
            "<Voice><MediaId><![CDATA[media_id]]></MediaId></Voice>"
        )
    );
}

#[test]
fn video_full_and_without_optionals() {
    assert_eq!(
        render(&Reply::Video {
            media_id: "media_id".to_owned(),
            title: Some("title".to_owned()),
            description: Some("description".to_owned()),
        }),
        golden(
            "video",
            "<Video><MediaId><![CDATA[media_id]]></MediaId><Title><![CDATA[title]]></Title><Description><![CDATA[description]]></Description></Video>"
        )
    );
    // None and "" are both omitted.
    assert_eq!(
        render(&Reply::Video {
            media_id: "media_id".to_owned(),
            title: None,
            description: Some(String::new()),
        }),
        golden(
            "video",
            "<Video><MediaId><![CDATA[media_id]]></MediaId></Video>"
        )
    );
}

#[test]
fn music_full_and_thumb_only() {
    assert_eq!(
        render(&Reply::Music {
            title: Some("TITLE".to_owned()),
            description: Some("DESCRIPTION".to_owned()),
            music_url: Some("MUSIC_Url".to_owned()),
            hq_music_url: Some("HQ_MUSIC_Url".to_owned()),
            thumb_media_id: "media_id".to_owned(),
        }),
        golden(
            "music",
            "<Music><Title><![CDATA[TITLE]]></Title><Description><![CDATA[DESCRIPTION]]></Description><MusicUrl><![CDATA[MUSIC_Url]]></MusicUrl><HQMusicUrl><![CDATA[HQ_MUSIC_Url]]></HQMusicUrl><ThumbMediaId><![CDATA[media_id]]></ThumbMediaId></Music>"
        )
    );
    assert_eq!(
        render(&Reply::Music {
            title: None,
            description: Some(String::new()),
            music_url: None,
            hq_music_url: Some(String::new()),
            thumb_media_id: "media_id".to_owned(),
        }),
        golden(
            "music",
            "<Music><ThumbMediaId><![CDATA[media_id]]></ThumbMediaId></Music>"
        )
    );
}

#[test]
fn news_one_and_two_articles() {
    assert_eq!(
        render(&Reply::News {
            articles: vec![article("title1", "description1", "picurl", "url")]
        }),
        golden(
            "news",
            "<ArticleCount>1</ArticleCount><Articles><item><Title><![CDATA[title1]]></Title><Description><![CDATA[description1]]></Description><PicUrl><![CDATA[picurl]]></PicUrl><Url><![CDATA[url]]></Url></item></Articles>"
        )
    );
    // Empty article fields are written as empty CDATA (the item keeps its shape).
    assert_eq!(
        render(&Reply::News {
            articles: vec![
                article("t1", "d1", "p1", "u1"),
                article("t2]]>", "", "", ""),
            ]
        }),
        golden(
            "news",
            "<ArticleCount>2</ArticleCount><Articles>\
             <item><Title><![CDATA[t1]]></Title><Description><![CDATA[d1]]></Description><PicUrl><![CDATA[p1]]></PicUrl><Url><![CDATA[u1]]></Url></item>\
             <item><Title><![CDATA[t2]]]]><![CDATA[>]]></Title><Description><![CDATA[]]></Description><PicUrl><![CDATA[]]></PicUrl><Url><![CDATA[]]></Url></item>\
             </Articles>"
        )
    );
}

#[test]
fn transfer_customer_service_with_and_without_account() {
    assert_eq!(
        render(&Reply::TransferCustomerService { kf_account: None }),
        golden("transfer_customer_service", "")
    );
    assert_eq!(
        render(&Reply::TransferCustomerService {
            kf_account: Some(String::new())
        }),
        golden("transfer_customer_service", "")
    );
    assert_eq!(
        render(&Reply::TransferCustomerService {
            kf_account: Some("test1@test".to_owned())
        }),
        golden(
            "transfer_customer_service",
            "<TransInfo><KfAccount><![CDATA[test1@test]]></KfAccount></TransInfo>"
        )
    );
}

#[test]
fn header_strings_are_escaped_and_time_is_bare() {
    assert_eq!(
        Reply::Image {
            media_id: "m".to_owned()
        }
        .to_xml("o]]>x", "gh\u{1}", -1),
        "<xml><ToUserName><![CDATA[o]]]]><![CDATA[>x]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName><CreateTime>-1</CreateTime><MsgType><![CDATA[image]]></MsgType><Image><MediaId><![CDATA[m]]></MediaId></Image></xml>"
    );
}

#[test]
fn rendered_reply_reads_back_with_to_and_from_swapped() {
    // PROTOCOL.md §11 #20: reply ToUserName = inbound FromUserName.
    let inbound = Inbound::parse(
        b"<xml><ToUserName>gh_abc</ToUserName><FromUserName>openid1</FromUserName>\
          <CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content></xml>",
        XmlLimits::default(),
    )
    .unwrap();
    let xml = Reply::text("hello ]]> world").to_xml(
        &inbound.from_user_name,
        &inbound.to_user_name,
        1_700_000_000,
    );
    let back = Inbound::parse(xml.as_bytes(), XmlLimits::default()).unwrap();
    assert_eq!(back.to_user_name, "openid1");
    assert_eq!(back.from_user_name, "gh_abc");
    assert_eq!(back.create_time, 1_700_000_000);
    assert_eq!(
        back.kind,
        Kind::Message(Message::Text {
            content: "hello ]]> world".to_owned(),
            msg_id: None,
            biz_msg_menu_id: None,
        })
    );
}

#[test]
fn success_constant() {
    assert_eq!(SUCCESS, "success");
}

// ------------------------------------------------------------------------------------------------
// prepare
// ------------------------------------------------------------------------------------------------

#[test]
fn prepare_keeps_short_text() {
    let text = "x".repeat(MAX_TEXT_REPLY_BYTES);
    assert_eq!(
        Reply::text(text.clone()).prepare(),
        Ok(Prepared {
            reply: Reply::text(text),
            overflow: None
        })
    );
}

#[test]
fn prepare_splits_long_text_on_a_char_boundary() {
    // 2046 ASCII bytes then a 3-byte char: the char would end at byte 2049, so it moves over.
    let text = format!("{}中abc", "a".repeat(2046));
    let prepared = Reply::text(text.clone()).prepare().unwrap();
    assert_eq!(prepared.reply, Reply::text("a".repeat(2046)));
    assert_eq!(prepared.overflow.as_deref(), Some("中abc"));

    // Exactly at the limit with a multi-byte char ending on byte 2047.
    let text = format!("{}中d", "a".repeat(2044));
    let prepared = Reply::text(text).prepare().unwrap();
    assert_eq!(
        prepared.reply,
        Reply::text(format!("{}中", "a".repeat(2044)))
    );
    assert_eq!(prepared.overflow.as_deref(), Some("d"));
}

#[test]
fn prepare_refuses_empty_text() {
    assert_eq!(
        Reply::text("").prepare(),
        Err(ReplyError::MissingField {
            reply: "text",
            field: "Content"
        })
    );
}

#[test]
fn prepare_checks_media_ids() {
    for reply in [
        Reply::Image {
            media_id: String::new(),
        },
        Reply::Voice {
            media_id: " ".to_owned(),
        },
        Reply::Video {
            media_id: String::new(),
            title: Some("t".to_owned()),
            description: None,
        },
    ] {
        let msg_type = reply.msg_type();
        assert_eq!(
            reply.prepare(),
            Err(ReplyError::MissingField {
                reply: msg_type,
                field: "MediaId"
            })
        );
    }
    let music = Reply::Music {
        title: Some("t".to_owned()),
        description: None,
        music_url: None,
        hq_music_url: None,
        thumb_media_id: String::new(),
    };
    assert_eq!(
        music.prepare(),
        Err(ReplyError::MissingField {
            reply: "music",
            field: "ThumbMediaId"
        })
    );
    let ok = Reply::Image {
        media_id: "m".to_owned(),
    };
    assert_eq!(
        ok.clone().prepare(),
        Ok(Prepared {
            reply: ok,
            overflow: None
        })
    );
}

#[test]
fn prepare_checks_news_article_count_and_titles() {
    assert_eq!(
        Reply::News { articles: vec![] }.prepare(),
        Err(ReplyError::NoArticles)
    );
    let nine = vec![article("t", "", "", ""); MAX_NEWS_ARTICLES + 1];
    assert_eq!(
        Reply::News { articles: nine }.prepare(),
        Err(ReplyError::TooManyArticles { count: 9, max: 8 })
    );
    let eight = vec![article("t", "", "", ""); MAX_NEWS_ARTICLES];
    assert!(Reply::News { articles: eight }.prepare().is_ok());
    assert_eq!(
        Reply::News {
            articles: vec![article("t", "", "", ""), article("", "d", "", "")]
        }
        .prepare(),
        Err(ReplyError::MissingField {
            reply: "news",
            field: "Title"
        })
    );
}

#[test]
fn prepare_accepts_transfer_without_account() {
    let transfer = Reply::TransferCustomerService { kf_account: None };
    assert_eq!(
        transfer.clone().prepare(),
        Ok(Prepared {
            reply: transfer,
            overflow: None
        })
    );
}

#[test]
fn reply_error_messages_name_the_problem() {
    assert_eq!(
        ReplyError::TooManyArticles { count: 9, max: 8 }.to_string(),
        "news reply has 9 articles but WeChat accepts at most 8; send fewer or split them over several messages"
    );
    assert_eq!(
        ReplyError::MissingField {
            reply: "image",
            field: "MediaId"
        }
        .to_string(),
        "image reply needs a non-empty MediaId"
    );
}
