//! The console dashboard's aggregates over the message log.

use wxoa_api::StoreError;

use crate::sql::{Db, op_error, with_pool};

const PER_MINUTE: &str = "SELECT at / 60, COUNT(*) FROM message_log \
     WHERE at >= $1 AND at < $2 GROUP BY at / 60";

const BY_RULE: &str = "SELECT rule, COUNT(*) FROM message_log WHERE at >= $1 \
     GROUP BY rule ORDER BY COUNT(*) DESC, rule";

const BY_SOURCE: &str = "SELECT source, COUNT(*) FROM message_log WHERE at >= $1 \
     GROUP BY source ORDER BY COUNT(*) DESC, source";

const LATENCIES: &str = "SELECT latency_ms, COUNT(*) FROM message_log WHERE at >= $1 \
     GROUP BY latency_ms ORDER BY latency_ms";

/// How many pushes were logged in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteCount {
    /// The minute's first second (Unix seconds, a multiple of 60).
    pub minute: i64,
    /// Pushes logged in it.
    pub count: u64,
}

/// How many logged rows share one value of a column (a rule, a source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    /// The value; `None` for rows without one (no rule matched).
    pub key: Option<String>,
    /// Rows with it.
    pub count: u64,
}

/// Latency percentiles of the logged answers, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencySummary {
    /// Answers counted.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Slowest.
    pub max: u64,
    /// Answers slower than the budget given to [`SqlDashboard::latency`].
    pub over_budget: u64,
}

/// Aggregates for the console's dashboard.
#[derive(Debug, Clone)]
pub struct SqlDashboard {
    db: Db,
}

impl SqlDashboard {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Pushes per minute for the `minutes` whole minutes ending with the one holding `now`,
    /// oldest first, with a zero for every minute without pushes.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn pushes_per_minute(
        &self,
        now: i64,
        minutes: u32,
    ) -> Result<Vec<MinuteCount>, StoreError> {
        let last = now.div_euclid(60);
        let first = last - i64::from(minutes) + 1;
        let rows: Vec<(i64, i64)> = with_pool!(&self.db, pool => {
            sqlx::query_as(PER_MINUTE)
                .bind(first * 60)
                .bind((last + 1) * 60)
                .fetch_all(pool)
                .await
        })
        .map_err(|e| op_error(&self.db, "pushes_per_minute", "message_log", e))?;
        Ok((first..=last)
            .map(|m| MinuteCount {
                minute: m * 60,
                count: rows
                    .iter()
                    .find(|(minute, _)| *minute == m)
                    .map_or(0, |(_, c)| u64::try_from(*c).unwrap_or_default()),
            })
            .collect())
    }

    /// Rows logged since `since` (Unix seconds) by rule, most first (`None`: no rule matched).
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn answers_by_rule(&self, since: i64) -> Result<Vec<GroupCount>, StoreError> {
        self.group(BY_RULE, "answers_by_rule", since).await
    }

    /// Rows logged since `since` by where the answer came from (`source`), most first.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn outcomes(&self, since: i64) -> Result<Vec<GroupCount>, StoreError> {
        self.group(BY_SOURCE, "outcomes", since).await
    }

    async fn group(
        &self,
        sql: &'static str,
        op: &'static str,
        since: i64,
    ) -> Result<Vec<GroupCount>, StoreError> {
        let rows: Vec<(Option<String>, i64)> = with_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(since).fetch_all(pool).await
        })
        .map_err(|e| op_error(&self.db, op, "message_log", e))?;
        Ok(rows
            .into_iter()
            .map(|(key, count)| GroupCount {
                key,
                count: u64::try_from(count).unwrap_or_default(),
            })
            .collect())
    }

    /// Latency percentiles of the rows logged since `since`, and how many took longer than
    /// `budget_ms`. Nearest-rank percentiles over the exact distribution (the log keeps whole
    /// milliseconds, so the distinct values are few).
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn latency(&self, since: i64, budget_ms: u64) -> Result<LatencySummary, StoreError> {
        let rows: Vec<(i64, i64)> = with_pool!(&self.db, pool => {
            sqlx::query_as(LATENCIES).bind(since).fetch_all(pool).await
        })
        .map_err(|e| op_error(&self.db, "latency", "message_log", e))?;
        let histogram: Vec<(u64, u64)> = rows
            .into_iter()
            .map(|(ms, n)| {
                (
                    u64::try_from(ms).unwrap_or_default(),
                    u64::try_from(n).unwrap_or_default(),
                )
            })
            .collect();
        Ok(summarize(&histogram, budget_ms))
    }
}

/// Percentiles of a histogram of `(value, count)` sorted by value.
fn summarize(histogram: &[(u64, u64)], budget_ms: u64) -> LatencySummary {
    let count: u64 = histogram.iter().map(|(_, n)| n).sum();
    if count == 0 {
        return LatencySummary::default();
    }
    let rank = |percent: u64| {
        // Nearest rank: the smallest value with at least percent% of the samples at or below.
        let wanted = (count * percent).div_ceil(100).max(1);
        let mut seen = 0;
        for (value, n) in histogram {
            seen += n;
            if seen >= wanted {
                return *value;
            }
        }
        histogram.last().map_or(0, |(v, _)| *v)
    };
    LatencySummary {
        count,
        p50: rank(50),
        p90: rank(90),
        p99: rank(99),
        max: histogram.last().map_or(0, |(v, _)| *v),
        over_budget: histogram
            .iter()
            .filter(|(v, _)| *v > budget_ms)
            .map(|(_, n)| n)
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        // 100 samples: 1 ms ×90, 10 ms ×9, 6000 ms ×1.
        let s = summarize(&[(1, 90), (10, 9), (6000, 1)], 5000);
        assert_eq!(
            s,
            LatencySummary {
                count: 100,
                p50: 1,
                p90: 1,
                p99: 10,
                max: 6000,
                over_budget: 1
            }
        );
        assert_eq!(summarize(&[], 5000), LatencySummary::default());
        let one = summarize(&[(7, 1)], 5000);
        assert_eq!((one.p50, one.p99, one.max), (7, 7, 7));
    }
}
