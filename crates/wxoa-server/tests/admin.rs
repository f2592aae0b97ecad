//! The admin listener: health, readiness and Prometheus metrics after real pushes.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use support::*;
use tower::ServiceExt;
use wxoa_server::edge::router;
use wxoa_server::metrics::{admin_router, install_recorder};

async fn get(app: axum::Router, uri: &str) -> (StatusCode, String) {
    let resp = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let handle = install_recorder().expect("recorder installs once in this test binary");
    let app = app("");
    let (status, body) = get(admin_router(app.clone(), None), "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let (status, body) = get(admin_router(app.clone(), None), "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("6 rules loaded"), "{body}");
    let (status, _) = get(admin_router(app.clone(), None), "/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // One answered push, one retry of it, one refused request.
    let uri = format!("/wechat?{}", plain_query(NOW, "1"));
    for _ in 0..2 {
        let req = Request::post(&uri)
            .body(Body::from(text_xml("使用", 5)))
            .unwrap();
        assert_eq!(
            router(app.clone()).oneshot(req).await.unwrap().status(),
            StatusCode::OK
        );
    }
    let bad = Request::post("/wechat?signature=x&timestamp=1&nonce=1")
        .body(Body::from(text_xml("使用", 6)))
        .unwrap();
    assert_eq!(
        router(app.clone()).oneshot(bad).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    let (status, text) = get(admin_router(app, Some(handle)), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(r#"wxoa_pushes_total{account="wx49f0ab532d5d035a",mode="plain",msg_type="text",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"wxoa_dedup_total{account="wx49f0ab532d5d035a",source="cached"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"wxoa_refused_total{reason="bad_signature"} 1"#),
        "{text}"
    );
    assert!(text.contains("wxoa_handler_seconds_bucket"), "{text}");
    assert!(
        text.contains(r#"le="4.5""#),
        "buckets around the 5 s budget: {text}"
    );
}
