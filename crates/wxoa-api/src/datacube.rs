//! 数据统计 (data cube): follower growth and totals, article reads and shares, message stats, by day.
//!
//! Each report takes a `begin_date` and `end_date` (`YYYY-MM-DD`, Beijing days, end no later
//! than yesterday) and allows a maximum span (user reports 7 days, article summary 1 day, …);
//! the answer is `{"list": [...]}` with one row per day (and per source / article / type).
//! Rows are kept as JSON objects so a report's new fields are never lost; [`Report::columns`]
//! names the documented ones (the CSV export's header).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{Client, Req, decode};
use crate::error::ApiError;

/// One row of a report.
pub type Row = Map<String, Value>;

/// A data-cube report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Report {
    /// `getusersummary`: new and cancelled followers per day and source (7 days).
    UserSummary,
    /// `getusercumulate`: total followers per day (7 days).
    UserCumulate,
    /// `getarticlesummary`: per-article reads and shares on one day (1 day).
    ArticleSummary,
    /// `getarticletotal`: per-article totals over the days after sending (1 day).
    ArticleTotal,
    /// `getuserread`: reads per day (3 days).
    UserRead,
    /// `getusershare`: shares per day (7 days).
    UserShare,
    /// `getupstreammsg`: messages followers sent per day (7 days).
    UpstreamMsg,
}

impl Report {
    /// Every report.
    pub const ALL: [Report; 7] = [
        Self::UserSummary,
        Self::UserCumulate,
        Self::ArticleSummary,
        Self::ArticleTotal,
        Self::UserRead,
        Self::UserShare,
        Self::UpstreamMsg,
    ];

    /// The API path.
    #[must_use]
    pub fn path(self) -> &'static str {
        match self {
            Self::UserSummary => "/datacube/getusersummary",
            Self::UserCumulate => "/datacube/getusercumulate",
            Self::ArticleSummary => "/datacube/getarticlesummary",
            Self::ArticleTotal => "/datacube/getarticletotal",
            Self::UserRead => "/datacube/getuserread",
            Self::UserShare => "/datacube/getusershare",
            Self::UpstreamMsg => "/datacube/getupstreammsg",
        }
    }

    /// The name used on the command line (`user-summary`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::UserSummary => "user-summary",
            Self::UserCumulate => "user-cumulate",
            Self::ArticleSummary => "article-summary",
            Self::ArticleTotal => "article-total",
            Self::UserRead => "user-read",
            Self::UserShare => "user-share",
            Self::UpstreamMsg => "upstream-msg",
        }
    }

    /// Longest span in days (both ends included).
    #[must_use]
    pub fn max_days(self) -> i64 {
        match self {
            Self::UserSummary | Self::UserCumulate | Self::UserShare | Self::UpstreamMsg => 7,
            Self::ArticleSummary | Self::ArticleTotal => 1,
            Self::UserRead => 3,
        }
    }

    /// The documented fields of a row, in CSV column order.
    #[must_use]
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::UserSummary => &["ref_date", "user_source", "new_user", "cancel_user"],
            Self::UserCumulate => &["ref_date", "cumulate_user"],
            Self::ArticleSummary => &[
                "ref_date",
                "msgid",
                "title",
                "int_page_read_user",
                "int_page_read_count",
                "ori_page_read_user",
                "ori_page_read_count",
                "share_user",
                "share_count",
                "add_to_fav_user",
                "add_to_fav_count",
            ],
            Self::ArticleTotal => &["ref_date", "msgid", "title", "details"],
            Self::UserRead => &[
                "ref_date",
                "int_page_read_user",
                "int_page_read_count",
                "ori_page_read_user",
                "ori_page_read_count",
                "share_user",
                "share_count",
                "add_to_fav_user",
                "add_to_fav_count",
            ],
            Self::UserShare => &["ref_date", "share_scene", "share_count", "share_user"],
            Self::UpstreamMsg => &["ref_date", "msg_type", "msg_user", "msg_count"],
        }
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
///
/// # Errors
/// A message naming the bad date.
pub fn parse_date(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a date (YYYY-MM-DD)");
    let mut parts = s.trim().splitn(3, '-');
    let mut next = |len: usize| -> Result<i64, String> {
        let p = parts.next().filter(|p| p.len() == len).ok_or_else(bad)?;
        p.parse::<i64>().map_err(|_| bad())
    };
    let (y, m, d) = (next(4)?, next(2)?, next(2)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1..=days_in_month).contains(&d) {
        return Err(bad());
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok(era * 146_097 + doe - 719_468)
}

/// Check a date range for `report`: valid dates, begin ≤ end, within the report's span.
///
/// # Errors
/// A message naming the problem.
pub fn check_range(report: Report, begin: &str, end: &str) -> Result<(), String> {
    let (b, e) = (parse_date(begin)?, parse_date(end)?);
    if b > e {
        return Err(format!("begin_date {begin} is after end_date {end}"));
    }
    let span = e - b + 1;
    if span > report.max_days() {
        return Err(format!(
            "{} covers at most {} day(s) a call; {begin}..{end} is {span}",
            report.name(),
            report.max_days()
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(default)]
    list: Vec<Row>,
}

impl Client {
    /// `POST /datacube/…`: the rows of `report` for `begin..=end` (`YYYY-MM-DD`).
    ///
    /// # Errors
    /// [`ApiError::Validation`] for bad dates or a span too long; 61500 (date format), 61501
    /// (date range) from the platform.
    pub async fn datacube(
        &self,
        report: Report,
        begin: &str,
        end: &str,
    ) -> Result<Vec<Row>, ApiError> {
        check_range(report, begin, end).map_err(ApiError::Validation)?;
        let req = Req::post(
            report.path(),
            &serde_json::json!({ "begin_date": begin, "end_date": end }),
        )?
        .safe();
        let r: ListResponse = self.inner.call(&req, decode).await?;
        Ok(r.list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_ranges_are_bounded() {
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert_eq!(
            parse_date("2024-03-01").unwrap() - parse_date("2024-02-28").unwrap(),
            2
        );
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("2024-1-01").is_err());
        check_range(Report::UserSummary, "2024-01-01", "2024-01-07").unwrap();
        assert!(
            check_range(Report::UserSummary, "2024-01-01", "2024-01-08")
                .unwrap_err()
                .contains("at most 7")
        );
        assert!(check_range(Report::ArticleSummary, "2024-01-02", "2024-01-01").is_err());
    }
}
