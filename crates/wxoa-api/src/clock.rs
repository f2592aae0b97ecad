//! Wall-clock time for token expiry and the daily fetch counter, injectable so tests move time without sleeping.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current Unix time in seconds.
///
/// The token provider asks it whether a cached token is still fresh and which Beijing day a
/// fetch belongs to. Inject a [`ManualClock`] in tests to move time forward instantly.
pub trait Clock: Send + Sync + Debug {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now_unix(&self) -> i64;
}

/// The real clock ([`SystemTime::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock set before 1970 is broken; treat it as the epoch rather than panic.
            Err(_) => 0,
        }
    }
}

/// A clock that only moves when told to; for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock showing `now` (Unix seconds).
    #[must_use]
    pub fn new(now: i64) -> Self {
        Self {
            now: AtomicI64::new(now),
        }
    }

    /// Set the time to `now` (Unix seconds).
    pub fn set(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// Move the time forward by `secs` seconds (backwards if negative).
    pub fn advance(&self, secs: i64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// The calendar date in Beijing (UTC+8, no daylight saving) at `unix`, as `YYYY-MM-DD`.
///
/// The platform's daily quotas reset at midnight Beijing time, so the fetch counter is keyed
/// by this date rather than the host's local or UTC date.
#[must_use]
pub fn beijing_date(unix: i64) -> String {
    let days = (unix + 8 * 3600).div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Proleptic Gregorian date of the day `z` days after 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_date_rolls_over_at_16_utc() {
        // 2024-03-01T15:59:59Z is 23:59:59 in Beijing; one second later it is the next day there.
        assert_eq!(beijing_date(1_709_308_799), "2024-03-01");
        assert_eq!(beijing_date(1_709_308_800), "2024-03-02");
    }

    #[test]
    fn beijing_date_handles_epoch_and_leap_days() {
        assert_eq!(beijing_date(0), "1970-01-01");
        assert_eq!(beijing_date(-8 * 3600 - 1), "1969-12-31");
        // 2024-02-29T12:00:00Z
        assert_eq!(beijing_date(1_709_208_000), "2024-02-29");
        // 2000-03-01T00:00:00+08:00
        assert_eq!(beijing_date(951_840_000), "2000-03-01");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(100);
        assert_eq!(c.now_unix(), 100);
        c.advance(50);
        assert_eq!(c.now_unix(), 150);
        c.set(7);
        assert_eq!(c.now_unix(), 7);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_unix() > 1_577_836_800);
    }
}
