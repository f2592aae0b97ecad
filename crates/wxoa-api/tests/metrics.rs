//! Metrics recorded by the client: token fetches (and the day's count) and API calls by
//! endpoint and errcode.

use metrics_exporter_prometheus::PrometheusBuilder;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn token_fetches_and_calls_by_errcode_are_counted() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder in this test binary");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "TOKEN-1", "expires_in": 7200})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/getcallbackip"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ip_list": ["101.226.103.0/25"]})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/getcallbackip"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"errcode": 48001, "errmsg": "api unauthorized"})),
        )
        .mount(&server)
        .await;

    let client = wxoa_api::Client::builder("wx1234567890abcdef", "secret")
        .base_url(server.uri())
        .build()
        .unwrap();
    client.callback_ips().await.unwrap();
    assert_eq!(client.callback_ips().await.unwrap_err().code(), Some(48001));

    let text = handle.render();
    assert!(
        text.contains(r#"wxoa_api_calls_total{endpoint="/cgi-bin/getcallbackip",errcode="0"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"wxoa_api_calls_total{endpoint="/cgi-bin/getcallbackip",errcode="48001"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("wxoa_token_fetches_total{"), "{text}");
    assert!(text.contains("wxoa_token_fetches_today{"), "{text}");
}
