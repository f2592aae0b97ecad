//! 数据统计: `/datacube/getusersummary`, `getusercumulate`, `getarticlesummary`, `getarticletotal`, `getuserread`, `getusershare`, `getupstreammsg`, computed from the mock's followers and posts.
//!
//! Checks like the platform: a date not `YYYY-MM-DD` 61500; begin after end, an end date of
//! today (Beijing) or later, or a span over the report's maximum (7 / 1 / 3 days) 61501.

use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::errors::{WxError, WxResult, ok_with};
use super::state::{MockPlatform, State as PlatformState, beijing_day};
use super::{json_body, str_field};

/// Days since 1970-01-01 of `YYYY-MM-DD`, or 61500.
fn parse_date(s: &str) -> Result<i64, WxError> {
    let bad = || WxError::new(61500);
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    Ok(era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468)
}

/// `YYYY-MM-DD` of a day number.
fn format_date(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The report's days, checked.
fn days(v: &Value, max_days: i64, now: i64) -> Result<Vec<i64>, WxError> {
    let begin = parse_date(&str_field(v, "begin_date").unwrap_or_default())?;
    let end = parse_date(&str_field(v, "end_date").unwrap_or_default())?;
    if begin > end || end >= beijing_day(now) || end - begin + 1 > max_days {
        return Err(WxError::new(61501));
    }
    Ok((begin..=end).collect())
}

fn rows(
    p: &MockPlatform,
    body: &Bytes,
    max_days: i64,
    row: impl Fn(&PlatformState, i64) -> Vec<Value>,
) -> WxResult {
    let v = json_body(body)?;
    let now = p.now();
    let days = days(&v, max_days, now)?;
    let s = p.lock();
    let list: Vec<Value> = days.iter().flat_map(|d| row(&s, *d)).collect();
    Ok(ok_with(json!({ "list": list })))
}

fn followers_on(
    s: &PlatformState,
    day: i64,
    at: impl Fn(&super::Follower) -> Option<i64>,
) -> usize {
    s.followers
        .all()
        .iter()
        .filter(|f| at(f).is_some_and(|t| beijing_day(t) == day))
        .count()
}

/// `getusersummary` (7 days): followers who subscribed that day.
pub(crate) async fn user_summary(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    rows(&p, &body, 7, |s, d| {
        let new_user = followers_on(s, d, |f| f.subscribed.then_some(f.subscribe_time).flatten());
        vec![
            json!({ "ref_date": format_date(d), "user_source": 0, "new_user": new_user, "cancel_user": 0 }),
        ]
    })
}

/// `getusercumulate` (7 days): followers at the end of the day.
pub(crate) async fn user_cumulate(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    rows(&p, &body, 7, |s, d| {
        let n = s
            .followers
            .all()
            .iter()
            .filter(|f| f.subscribed && f.subscribe_time.is_some_and(|t| beijing_day(t) <= d))
            .count();
        vec![json!({ "ref_date": format_date(d), "cumulate_user": n })]
    })
}

/// Posts published that day, one row per article.
fn article_rows(s: &PlatformState, d: i64, total: bool) -> Vec<Value> {
    s.publishing
        .posts
        .values()
        .filter(|post| beijing_day(post.update_time) == d)
        .flat_map(|post| {
            post.articles.iter().enumerate().map(move |(i, a)| {
                let msgid = format!("{}_{}", post.article_id, i + 1);
                let title = str_field(a, "title").unwrap_or_default();
                if total {
                    json!({ "ref_date": format_date(d), "msgid": msgid, "title": title, "details": [] })
                } else {
                    json!({ "ref_date": format_date(d), "msgid": msgid, "title": title,
                        "int_page_read_user": 0, "int_page_read_count": 0, "ori_page_read_user": 0,
                        "ori_page_read_count": 0, "share_user": 0, "share_count": 0,
                        "add_to_fav_user": 0, "add_to_fav_count": 0 })
                }
            })
        })
        .collect()
}

/// `getarticlesummary` (1 day).
pub(crate) async fn article_summary(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    rows(&p, &body, 1, |s, d| article_rows(s, d, false))
}

/// `getarticletotal` (1 day).
pub(crate) async fn article_total(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    rows(&p, &body, 1, |s, d| article_rows(s, d, true))
}

/// `getuserread` (3 days).
pub(crate) async fn user_read(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    rows(&p, &body, 3, |_, d| {
        vec![
            json!({ "ref_date": format_date(d), "int_page_read_user": 0, "int_page_read_count": 0,
            "ori_page_read_user": 0, "ori_page_read_count": 0, "share_user": 0, "share_count": 0,
            "add_to_fav_user": 0, "add_to_fav_count": 0 }),
        ]
    })
}

/// `getusershare` (7 days).
pub(crate) async fn user_share(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    rows(&p, &body, 7, |_, d| {
        vec![
            json!({ "ref_date": format_date(d), "share_scene": 1, "share_count": 0, "share_user": 0 }),
        ]
    })
}

/// `getupstreammsg` (7 days): followers whose last message fell on the day.
pub(crate) async fn upstream_msg(State(p): State<MockPlatform>, body: Bytes) -> WxResult {
    rows(&p, &body, 7, |s, d| {
        let n = followers_on(s, d, |f| f.last_message_at);
        vec![json!({ "ref_date": format_date(d), "msg_type": 1, "msg_user": n, "msg_count": n })]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for s in ["1970-01-01", "2024-02-29", "2023-12-31"] {
            assert_eq!(format_date(parse_date(s).unwrap()), s);
        }
        assert_eq!(parse_date("2024/01/01").unwrap_err().code, 61500);
    }
}
