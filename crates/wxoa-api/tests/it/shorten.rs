//! Short keys against the fake platform: gen and fetch.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path};
use wxoa_api::ApiError;

use crate::support::*;

#[tokio::test]
async fn gen_and_fetch() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/shorten/gen"))
        .and(body_json(
            json!({"long_data":"loooooong data","expire_seconds":86400}),
        ))
        .respond_with(ok_fixture("shorten_gen.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/shorten/fetch"))
        .and(body_json(json!({"short_key":"iTqgVLLLNGcZ"})))
        .respond_with(ok_fixture("shorten_fetch.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let key = c.shorten("loooooong data", 86_400).await.unwrap();
    assert_eq!(key, "iTqgVLLLNGcZ");
    let d = c.shorten_fetch(&key).await.unwrap();
    assert_eq!(
        (d.long_data.as_str(), d.expire_seconds),
        ("loooooong data", 86_389)
    );
    assert!(matches!(
        c.shorten("x", 31 * 86_400).await,
        Err(ApiError::Validation(_))
    ));
}
