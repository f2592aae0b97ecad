//! Permanent materials against the fake platform: multipart upload (with a video's description), uploadimg, get (file and video), count, batchget, delete.

use serde_json::json;
use wiremock::matchers::{body_json, body_string_contains, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};
use wxoa_api::ApiError;
use wxoa_api::material::{MaterialDownload, MaterialType, Upload, VideoDescription};

use crate::support::*;

#[tokio::test]
async fn a_video_is_uploaded_with_its_description_field() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/material/add_material"))
        .and(query_param("type", "video"))
        .and(body_string_contains("name=\"description\""))
        .and(body_string_contains(
            r#"{"title":"开箱","introduction":"新品"}"#,
        ))
        .and(body_string_contains("filename=\"clip.mp4\""))
        .respond_with(ok_fixture("material_add.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let d = VideoDescription {
        title: "开箱".into(),
        introduction: "新品".into(),
    };
    let added = c
        .material_add(
            MaterialType::Video,
            Upload::new("clip.mp4", vec![1; 10]),
            Some(&d),
        )
        .await
        .unwrap();
    assert_eq!(added.media_id, "MEDIA_ID");
    // Refused before sending: a video without description, a wrong extension.
    assert!(matches!(
        c.material_add(MaterialType::Video, Upload::new("clip.mp4", vec![1]), None)
            .await,
        Err(ApiError::Validation(_))
    ));
    assert!(matches!(
        c.material_add(MaterialType::Thumb, Upload::new("t.png", vec![1]), None)
            .await,
        Err(ApiError::Validation(_))
    ));
}

#[tokio::test]
async fn progress_is_reported_for_a_streamed_upload() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/media/uploadimg"))
        .respond_with(ok_fixture("uploadimg.json"))
        .expect(1)
        .mount(&s)
        .await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let upload =
        Upload::new("big.png", vec![7; 200_000]).with_progress(wxoa_api::Progress::new(move |n| {
            log.lock().unwrap().push(n)
        }));
    let url = client(&s).upload_article_image(upload).await.unwrap();
    assert!(url.starts_with("http://mmbiz.qpic.cn/"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&200_000));
    assert!(
        seen.len() >= 3 && seen.windows(2).all(|w| w[0] < w[1]),
        "{seen:?}"
    );
}

#[tokio::test]
async fn an_unsupported_file_is_reported() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/material/add_material"))
        .respond_with(ok_fixture("err_40005.json"))
        .expect(1)
        .mount(&s)
        .await;
    let e = client(&s)
        .material_add(MaterialType::Image, Upload::new("a.gif", vec![1]), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(40005));
}

#[tokio::test]
async fn get_count_list_delete() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/material/get_material"))
        .and(body_json(json!({"media_id":"IMG"})))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(vec![0xFF, 0xD8, 0x7B]),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/material/get_material"))
        .and(body_json(json!({"media_id":"VID"})))
        .respond_with(ok_fixture("material_video.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/material/get_material"))
        .and(body_json(json!({"media_id":"GONE"})))
        .respond_with(ok_fixture("err_40007.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/material/get_materialcount"))
        .respond_with(ok_fixture("material_count.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/material/batchget_material"))
        .and(body_json(json!({"type":"image","offset":0,"count":20})))
        .respond_with(ok_fixture("material_batchget.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/material/del_material"))
        .and(body_json(json!({"media_id":"IMG"})))
        .respond_with(ok_fixture("ok.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    assert!(matches!(
        c.material_get("IMG").await.unwrap(),
        MaterialDownload::File { bytes, .. } if bytes == vec![0xFF, 0xD8, 0x7B]
    ));
    assert!(matches!(
        c.material_get("VID").await.unwrap(),
        MaterialDownload::Video { down_url, .. } if down_url == "DOWN_URL"
    ));
    assert_eq!(
        c.material_get("GONE").await.unwrap_err().code(),
        Some(40007)
    );
    assert_eq!(c.material_count().await.unwrap().news_count, 4);
    let page = c.material_list(MaterialType::Image, 0, 20).await.unwrap();
    assert_eq!(page.item.len(), 2);
    assert_eq!(page.item[1].name, "b.png");
    c.material_delete("IMG").await.unwrap();
}
