//! The publishing families through the real API client over HTTP: drafts → publish, materials, mass sends (deduplicated by clientmsgid, a lost answer retried once), subscribe messages, 客服 accounts, blacklist, short keys, data cube.

use std::sync::Arc;
use std::time::Duration;

use wxoa_api::draft::Article;
use wxoa_api::mass::{MassContent, MassMessage, MassTarget, PreviewTo};
use wxoa_api::material::{MaterialDownload, MaterialType, Upload, VideoDescription};
use wxoa_api::publish::PublishState;
use wxoa_api::subscribe::SubscribeMessage;
use wxoa_api::{ApiError, Client};
use wxoa_mock::api::{
    DEMO_SUBSCRIBE_TEMPLATE_ID, Delay, Follower, ManualClock, MediaKind, MockConfig, MockPlatform,
};

const APPID: &str = "wx1234567890abcdef";
const SECRET: &str = "0123456789abcdef0123456789abcdef";
/// 2023-11-15 06:13:20 in Beijing.
const T0: i64 = 1_700_000_000;

struct Setup {
    mock: MockPlatform,
    client: Client,
    base: String,
}

async fn setup() -> Setup {
    let clock = Arc::new(ManualClock::new(T0));
    let mock = MockPlatform::new(MockConfig::new(APPID, SECRET).with_clock(clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = mock.clone();
    tokio::spawn(async move { served.serve(listener).await });
    let client = Client::builder(APPID, SECRET)
        .base_url(base.clone())
        .build()
        .unwrap();
    Setup { mock, client, base }
}

fn code(e: &ApiError) -> Option<i64> {
    e.code()
}

/// A cover uploaded as a permanent image, and an article using it.
async fn article(s: &Setup, title: &str) -> Article {
    let cover = s
        .client
        .material_add(
            MaterialType::Image,
            Upload::new("cover.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0]),
            None,
        )
        .await
        .unwrap();
    assert!(cover.url.is_some());
    Article::new(title, "<p>正文</p>", cover.media_id)
}

#[tokio::test]
async fn draft_to_published_post() {
    let s = setup().await;
    // A cover that is not a permanent image is refused like the platform does.
    let bad = Article::new("标题", "<p>x</p>", "NOT_A_MATERIAL");
    assert_eq!(
        code(&s.client.draft_add(&[bad]).await.unwrap_err()),
        Some(40007)
    );

    let a = article(&s, "春季上新").await;
    let media_id = s.client.draft_add(std::slice::from_ref(&a)).await.unwrap();
    assert_eq!(s.client.draft_count().await.unwrap(), 1);
    let got = s.client.draft_get(&media_id).await.unwrap();
    assert_eq!(got[0].title, "春季上新");
    assert!(got[0].url.is_some());

    let changed = Article {
        title: "夏季上新".into(),
        ..a.clone()
    };
    s.client.draft_update(&media_id, 0, &changed).await.unwrap();
    assert_eq!(
        code(
            &s.client
                .draft_update(&media_id, 3, &changed)
                .await
                .unwrap_err()
        ),
        Some(40097)
    );
    let page = s.client.draft_list(0, 20, true).await.unwrap();
    assert_eq!(page.total_count, 1);
    assert_eq!(page.item[0].content.news_item[0].title, "夏季上新");
    assert!(page.item[0].content.news_item[0].content.is_empty());

    let publish_id = s.client.publish_submit(&media_id).await.unwrap();
    let first = s.client.publish_status(&publish_id).await.unwrap();
    assert_eq!(first.publish_status, PublishState::Publishing);
    let done = s.client.publish_status(&publish_id).await.unwrap();
    assert_eq!(done.publish_status, PublishState::Published);
    let article_id = done.article_id.clone().unwrap();
    assert_eq!(done.article_detail.count, 1);
    assert!(
        done.article_detail.item[0]
            .article_url
            .starts_with("https://")
    );
    // Published: the draft left the draft box.
    assert_eq!(s.client.draft_count().await.unwrap(), 0);
    let posts = s.client.published_list(0, 10, false).await.unwrap();
    assert_eq!(posts.total_count, 1);
    assert_eq!(posts.item[0].article_id, article_id);
    assert_eq!(
        s.client.published_get(&article_id).await.unwrap()[0].title,
        "夏季上新"
    );
    s.client.published_delete(&article_id, 0).await.unwrap();
    assert_eq!(
        s.client.published_get(&article_id).await.unwrap()[0].is_deleted,
        Some(true)
    );
    assert_eq!(
        code(&s.client.published_delete("nope", 0).await.unwrap_err()),
        Some(53600)
    );
    assert_eq!(
        code(&s.client.publish_submit("nope").await.unwrap_err()),
        Some(40007)
    );
    // And the draft can be deleted (a fresh one).
    let other = s.client.draft_add(&[a]).await.unwrap();
    s.client.draft_delete(&other).await.unwrap();
    assert_eq!(
        code(&s.client.draft_get(&other).await.unwrap_err()),
        Some(40007)
    );
}

#[tokio::test]
async fn materials_upload_list_download_delete() {
    let s = setup().await;
    let voice = s
        .client
        .material_add(
            MaterialType::Voice,
            Upload::new("hi.mp3", vec![1, 2, 3]),
            None,
        )
        .await
        .unwrap();
    let video = s
        .client
        .material_add(
            MaterialType::Video,
            Upload::new("clip.mp4", vec![0; 2000]),
            Some(&VideoDescription {
                title: "开箱".into(),
                introduction: "新品开箱".into(),
            }),
        )
        .await
        .unwrap();
    let img_id = s.mock.add_material(MediaKind::Image, "a.png", vec![9; 10]);
    let count = s.client.material_count().await.unwrap();
    assert_eq!(
        (count.voice_count, count.video_count, count.image_count),
        (1, 1, 1)
    );
    match s.client.material_get(&voice.media_id).await.unwrap() {
        MaterialDownload::File { bytes, .. } => assert_eq!(bytes, vec![1, 2, 3]),
        other => panic!("{other:?}"),
    }
    match s.client.material_get(&video.media_id).await.unwrap() {
        MaterialDownload::Video {
            title, down_url, ..
        } => {
            assert_eq!(title, "开箱");
            let bytes = reqwest::get(&down_url)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(bytes.len(), 2000);
        }
        other => panic!("{other:?}"),
    }
    let page = s
        .client
        .material_list(MaterialType::Image, 0, 20)
        .await
        .unwrap();
    assert_eq!(page.item[0].media_id, img_id);
    assert_eq!(
        code(
            &s.client
                .material_list(MaterialType::Thumb, 0, 20)
                .await
                .unwrap_err()
        ),
        Some(40004)
    );
    s.client.material_delete(&voice.media_id).await.unwrap();
    assert_eq!(
        code(&s.client.material_get(&voice.media_id).await.unwrap_err()),
        Some(40007)
    );
    let url = s
        .client
        .upload_article_image(Upload::new("in.png", vec![1; 100]))
        .await
        .unwrap();
    assert!(url.starts_with("http://mmbiz.qpic.cn/"), "{url}");
}

#[tokio::test]
async fn the_mock_checks_uploads_like_the_platform() {
    let s = setup().await;
    let form = |name: &str, bytes: Vec<u8>| {
        reqwest::multipart::Form::new().part(
            "media",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        )
    };
    let token = s.client.access_token().await.unwrap().value;
    let http = reqwest::Client::new();
    let post = |query: String, f: reqwest::multipart::Form| {
        let http = http.clone();
        let url = format!(
            "{}/cgi-bin/material/add_material?access_token={token}&{query}",
            s.base
        );
        async move {
            let v: serde_json::Value = http
                .post(url)
                .multipart(f)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["errcode"].as_i64().unwrap_or(0)
        }
    };
    assert_eq!(
        post("type=file".into(), form("a.jpg", vec![1])).await,
        40004
    );
    assert_eq!(
        post("type=image".into(), form("a.txt", vec![1])).await,
        40005
    );
    assert_eq!(
        post("type=thumb".into(), form("a.jpg", vec![1; 70_000])).await,
        40006
    );
    // A video without its description.
    assert_eq!(
        post("type=video".into(), form("a.mp4", vec![1])).await,
        40097
    );
}

fn three_followers(mock: &MockPlatform) {
    for id in ["o1", "o2", "o3"] {
        mock.add_follower(Follower::new(id));
    }
}

#[tokio::test]
async fn mass_sends_are_checked_delivered_and_never_repeated() {
    let s = setup().await;
    three_followers(&s.mock);
    let draft = s
        .client
        .draft_add(&[article(&s, "周报").await])
        .await
        .unwrap();
    let news = MassContent::News { media_id: draft };

    let all = MassMessage::new(MassTarget::All, news.clone());
    let sent = s.client.mass_send(&all).await.unwrap();
    assert!(!sent.already_sent);
    assert!(sent.msg_data_id.is_some());
    assert_eq!(s.mock.mass_jobs()[0].recipients.len(), 3);
    assert_eq!(
        s.mock.mass_jobs()[0].clientmsgid.as_deref(),
        Some(all.derived_clientmsgid().as_str())
    );

    // The same message again: the platform's 45065 names the first job; nothing new is sent.
    let again = s.client.mass_send(&all).await.unwrap();
    assert!(again.already_sent);
    assert_eq!(again.msg_id, sent.msg_id);
    assert_eq!(s.mock.mass_jobs().len(), 1);

    // Another clientmsgid sends again on purpose.
    let mut own = all.clone();
    own.clientmsgid = Some("weekly-2".into());
    assert!(!s.client.mass_send(&own).await.unwrap().already_sent);
    assert_eq!(s.mock.mass_jobs().len(), 2);

    let list = MassMessage::new(
        MassTarget::Openids(vec!["o1".into(), "unknown".into()]),
        MassContent::Text("hello".into()),
    );
    let sent = s.client.mass_send(&list).await.unwrap();
    let job = s
        .mock
        .mass_jobs()
        .into_iter()
        .find(|j| j.msg_id == sent.msg_id)
        .unwrap();
    assert_eq!(job.recipients, vec!["o1".to_owned()]);

    let bad_tag = MassMessage::new(MassTarget::Tag(999), MassContent::Text("x".into()));
    assert_eq!(
        code(&s.client.mass_send(&bad_tag).await.unwrap_err()),
        Some(45159)
    );
    let bad_media = MassMessage::new(
        MassTarget::All,
        MassContent::Voice {
            media_id: "nope".into(),
        },
    );
    assert_eq!(
        code(&s.client.mass_send(&bad_media).await.unwrap_err()),
        Some(40007)
    );

    assert!(
        s.client
            .mass_preview(&PreviewTo::Openid("o2".into()), &news)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        code(
            &s.client
                .mass_preview(&PreviewTo::Openid("stranger".into()), &news)
                .await
                .unwrap_err()
        ),
        Some(40003)
    );
    let first = s.mock.mass_jobs()[0].msg_id;
    assert_eq!(
        s.client.mass_status(first).await.unwrap().msg_status,
        "SEND_SUCCESS"
    );
    s.client.mass_delete(first, None).await.unwrap();
    assert_eq!(
        s.client.mass_status(first).await.unwrap().msg_status,
        "DELETE"
    );

    s.client.mass_speed_set(2).await.unwrap();
    let speed = s.client.mass_speed().await.unwrap();
    assert_eq!((speed.speed, speed.realspeed), (2, 45));
    assert!(matches!(
        s.client.mass_speed_set(5).await,
        Err(ApiError::Validation(_))
    ));
}

#[tokio::test]
async fn a_mass_send_that_times_out_and_is_retried_sends_once() {
    let s = setup().await;
    three_followers(&s.mock);
    // The client gives up after 300 ms; the platform's first answer takes a minute (the send
    // itself happened at once), so the client retries with the same clientmsgid.
    let client = Client::builder(APPID, SECRET)
        .base_url(s.base.clone())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    client.access_token().await.unwrap();
    s.mock.delay_responses(Delay {
        path: "/cgi-bin/message/mass/sendall".into(),
        ms: 60_000,
        count: 1,
    });
    let msg = MassMessage::new(MassTarget::All, MassContent::Text("限时优惠".into()));
    let sent = client.mass_send(&msg).await.unwrap();
    assert!(sent.already_sent, "the retry must be answered 45065");
    let jobs = s.mock.mass_jobs();
    assert_eq!(jobs.len(), 1, "sent exactly once");
    assert_eq!(sent.msg_id, jobs[0].msg_id);
    assert_eq!(s.mock.calls("/cgi-bin/message/mass/sendall"), 2);
}

#[tokio::test]
async fn subscribe_messages_need_a_subscription() {
    let s = setup().await;
    s.mock.add_follower(Follower::new("o1"));
    let templates = s.client.subscribe_templates().await.unwrap();
    assert_eq!(templates[0].pri_tmpl_id, DEMO_SUBSCRIBE_TEMPLATE_ID);
    let msg = SubscribeMessage::new("o1", DEMO_SUBSCRIBE_TEMPLATE_ID)
        .field("thing1", "体检")
        .field("time2", "2024-01-01 10:00");
    assert_eq!(
        code(&s.client.send_subscribe(&msg).await.unwrap_err()),
        Some(43101)
    );
    s.mock.grant_subscription("o1", DEMO_SUBSCRIBE_TEMPLATE_ID);
    s.client.send_subscribe(&msg).await.unwrap();
    // A one-time subscription is used up.
    assert_eq!(
        code(&s.client.send_subscribe(&msg).await.unwrap_err()),
        Some(43101)
    );
    assert_eq!(s.mock.subscribe_sent().len(), 1);
    let wrong = SubscribeMessage::new("o1", "nope").field("thing1", "x");
    assert_eq!(
        code(&s.client.send_subscribe(&wrong).await.unwrap_err()),
        Some(40037)
    );
}

#[tokio::test]
async fn kf_accounts_blacklist_and_short_keys() {
    let s = setup().await;
    s.client.kf_add("kf2001@gh_test", "小王").await.unwrap();
    assert_eq!(
        code(&s.client.kf_add("kf2001@gh_test", "小王").await.unwrap_err()),
        Some(65406)
    );
    s.client
        .kf_update("kf2001@gh_test", "王经理")
        .await
        .unwrap();
    s.client
        .kf_invite("kf2001@gh_test", "wang_wx")
        .await
        .unwrap();
    assert_eq!(
        code(
            &s.client
                .kf_invite("kf2001@gh_test", "other")
                .await
                .unwrap_err()
        ),
        Some(65411)
    );
    let list = s.client.kf_list().await.unwrap();
    assert_eq!(list[0].kf_nick, "王经理");
    assert_eq!(list[0].invite_status.as_deref(), Some("waiting"));
    assert!(s.client.kf_online().await.unwrap().is_empty());
    assert!(s.mock.accept_kf_invite("kf2001@gh_test"));
    assert_eq!(
        s.client.kf_online().await.unwrap()[0].kf_account,
        "kf2001@gh_test"
    );
    s.client.kf_delete("kf2001@gh_test").await.unwrap();
    assert_eq!(
        code(&s.client.kf_delete("kf2001@gh_test").await.unwrap_err()),
        Some(65401)
    );

    three_followers(&s.mock);
    s.client.blacklist_add(&["o1", "o3"]).await.unwrap();
    assert_eq!(
        code(&s.client.blacklist_add(&["ghost"]).await.unwrap_err()),
        Some(49003)
    );
    assert_eq!(s.client.blacklist_all().await.unwrap(), vec!["o1", "o3"]);
    s.client.blacklist_remove(&["o1"]).await.unwrap();
    assert_eq!(s.mock.blacklisted(), vec!["o3"]);

    let key = s
        .client
        .shorten("{\"page\":\"order\",\"id\":42}", 3600)
        .await
        .unwrap();
    let back = s.client.shorten_fetch(&key).await.unwrap();
    assert_eq!(back.long_data, "{\"page\":\"order\",\"id\":42}");
    assert_eq!(back.expire_seconds, 3600);
    assert_eq!(
        code(&s.client.shorten_fetch("nope").await.unwrap_err()),
        Some(40097)
    );
}

#[tokio::test]
async fn data_cube_checks_dates_and_counts_followers() {
    let s = setup().await;
    let mut f = Follower::new("o1");
    f.subscribe_time = Some(T0 - 86_400); // 2023-11-14 in Beijing
    s.mock.add_follower(f);
    use wxoa_api::datacube::Report;
    let rows = s
        .client
        .datacube(Report::UserSummary, "2023-11-13", "2023-11-14")
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["ref_date"], "2023-11-14");
    assert_eq!(rows[1]["new_user"], 1);
    let cumulate = s
        .client
        .datacube(Report::UserCumulate, "2023-11-14", "2023-11-14")
        .await
        .unwrap();
    assert_eq!(cumulate[0]["cumulate_user"], 1);
    for report in Report::ALL {
        let rows = s
            .client
            .datacube(report, "2023-11-14", "2023-11-14")
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", report.name()));
        assert!(
            rows.iter().all(|r| r["ref_date"] == "2023-11-14"),
            "{}",
            report.name()
        );
    }
    // Today is not over yet: the platform's 61501.
    let today = s
        .client
        .datacube(Report::UserSummary, "2023-11-15", "2023-11-15")
        .await
        .unwrap_err();
    assert_eq!(code(&today), Some(61501));
    // A span too long never reaches the platform.
    assert!(matches!(
        s.client
            .datacube(Report::ArticleSummary, "2023-11-13", "2023-11-14")
            .await,
        Err(ApiError::Validation(_))
    ));
}

/// A callback server that records each push body and answers `success`.
async fn recording_server() -> (url::Url, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/wechat",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                "success"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url =
        url::Url::parse(&format!("http://{}/wechat", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

#[tokio::test]
async fn job_finish_events_reach_the_server() {
    let s = setup().await;
    three_followers(&s.mock);
    let (url, mut pushes) = recording_server().await;
    let config = wxoa_mock::driver::DriverConfig::new(url, "wxoatesttoken", APPID, "gh_wxoatest");
    s.mock
        .set_driver(wxoa_mock::driver::Driver::new(config).unwrap());
    let wait = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>| {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a push within 10 s")
            .expect("the server is up")
    };

    let draft = s
        .client
        .draft_add(&[article(&s, "周报").await])
        .await
        .unwrap();
    let publish_id = s.client.publish_submit(&draft).await.unwrap();
    let body = wait(&mut pushes).await;
    assert!(
        body.contains("PUBLISHJOBFINISH") && body.contains(&publish_id),
        "{body}"
    );
    assert!(body.contains("<article_url>"), "{body}");
    // With a server to tell, the job is over at once.
    let st = s.client.publish_status(&publish_id).await.unwrap();
    assert_eq!(st.publish_status, PublishState::Published);

    let sent = s
        .client
        .mass_send(&MassMessage::new(
            MassTarget::All,
            MassContent::Text("hi".into()),
        ))
        .await
        .unwrap();
    let body = wait(&mut pushes).await;
    assert!(body.contains("MASSSENDJOBFINISH"), "{body}");
    assert!(
        body.contains(&format!("<MsgID>{}</MsgID>", sent.msg_id)),
        "{body}"
    );
    assert!(body.contains("<SentCount>3</SentCount>"), "{body}");
}
