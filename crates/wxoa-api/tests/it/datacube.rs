//! Data cube against the fake platform: a user summary, and the platform's 61501.

use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path};
use wxoa_api::datacube::Report;

use crate::support::*;

#[tokio::test]
async fn user_summary_rows_and_a_range_error() {
    let s = server().await;
    mount_token(&s, 1).await;
    Mock::given(method("POST"))
        .and(path("/datacube/getusersummary"))
        .and(body_json(
            json!({"begin_date":"2014-12-07","end_date":"2014-12-08"}),
        ))
        .respond_with(ok_fixture("datacube_usersummary.json"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/datacube/getusercumulate"))
        .respond_with(ok_fixture("err_61501.json"))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let rows = c
        .datacube(Report::UserSummary, "2014-12-07", "2014-12-08")
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["new_user"], 2);
    let e = c
        .datacube(Report::UserCumulate, "2014-12-07", "2014-12-08")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(61501));
    assert!(e.hint_en().unwrap().contains("yesterday"));
}

#[tokio::test]
async fn every_report_posts_its_dates_to_its_path() {
    let s = server().await;
    mount_token(&s, 1).await;
    for report in Report::ALL {
        Mock::given(method("POST"))
            .and(path(report.path()))
            .and(body_json(
                json!({"begin_date":"2014-12-07","end_date":"2014-12-07"}),
            ))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_json(json!({"list":[{"ref_date":"2014-12-07"}]})),
            )
            .expect(1)
            .mount(&s)
            .await;
    }
    let c = client(&s);
    for report in Report::ALL {
        let rows = c
            .datacube(report, "2014-12-07", "2014-12-07")
            .await
            .unwrap();
        assert_eq!(rows[0]["ref_date"], "2014-12-07", "{}", report.name());
    }
}
