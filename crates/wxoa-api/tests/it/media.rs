//! Temporary media against the fake platform: multipart upload in field `media`, download as bytes, JSON errors, video URLs.

use wiremock::matchers::{body_string_contains, header_regex, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};
use wxoa_api::ApiError;
use wxoa_api::media::{MediaDownload, MediaType};

use crate::support::*;

#[tokio::test]
async fn upload_is_multipart_with_field_media() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/media/upload"))
        .and(query_param("access_token", TOKEN))
        .and(query_param("type", "image"))
        .and(header_regex(
            "content-type",
            "^multipart/form-data; boundary=",
        ))
        .and(body_string_contains(r#"name="media"; filename="logo.png""#))
        .and(body_string_contains("Content-Type: image/png"))
        .and(body_string_contains("PNGDATA"))
        .respond_with(ok_fixture("media_upload.json"))
        .expect(1)
        .mount(&s)
        .await;
    let up = client(&s)
        .media_upload(MediaType::Image, "logo.png", b"PNGDATA-0123".to_vec())
        .await
        .unwrap();
    assert_eq!(up.kind, "image");
    assert_eq!(up.created_at, 1_672_500_000);
    assert!(up.media_id.starts_with("rF4UdIMfYK3efUfyoddYRMU50"));
}

#[tokio::test]
async fn uploads_outside_the_limits_are_refused_locally() {
    let s = server().await;
    mount_token(&s, 0).await;
    let c = client(&s);
    let e = c
        .media_upload(MediaType::Thumb, "t.jpg", vec![0; 64 * 1024 + 1])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ApiError::Validation(m) if m.contains("at most 65536 bytes")),
        "{e}"
    );
    let e = c
        .media_upload(MediaType::Voice, "a.wav", vec![1])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ApiError::Validation(m) if m.contains("amr, mp3")),
        "{e}"
    );
    assert!(
        c.media_upload(MediaType::Image, "a.png", vec![])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn download_returns_the_bytes() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/media/get"))
        .and(query_param("media_id", "MEDIA"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "image/jpeg")
                .insert_header("Content-Disposition", r#"attachment; filename="MEDIA.jpg""#)
                .set_body_bytes(b"\xFF\xD8\xFF\xE0JFIF".to_vec()),
        )
        .expect(1)
        .mount(&s)
        .await;
    match client(&s).media_get("MEDIA").await.unwrap() {
        MediaDownload::File {
            content_type,
            filename,
            bytes,
        } => {
            assert_eq!(content_type.as_deref(), Some("image/jpeg"));
            assert_eq!(filename.as_deref(), Some("MEDIA.jpg"));
            assert_eq!(bytes, b"\xFF\xD8\xFF\xE0JFIF");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn download_json_error_and_video_url() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(path("/cgi-bin/media/get"))
        .and(query_param("media_id", "GONE"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "text/plain")
                .set_body_json(fixture("err_40007.json")),
        )
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(path("/cgi-bin/media/get"))
        .and(query_param("media_id", "VIDEO"))
        .respond_with(ok_fixture("media_video_url.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let e = c.media_get("GONE").await.unwrap_err();
    assert_eq!(e.code(), Some(40007));
    assert!(e.to_string().contains("3 days"), "{e}");
    assert!(
        matches!(c.media_get("VIDEO").await.unwrap(), MediaDownload::VideoUrl(u) if u.starts_with("http://wxsnsdy"))
    );
}
