//! The login rate limit: at most 5 failed logins a minute per client address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// Failed logins allowed per address within [`WINDOW_SECS`].
pub const MAX_FAILURES: usize = 5;
/// The window of the limit, in seconds.
pub const WINDOW_SECS: i64 = 60;
/// The most addresses tracked at once (old entries are dropped first).
const MAX_ADDRESSES: usize = 10_000;

/// Recent failed logins per client address.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<IpAddr, VecDeque<i64>>>,
}

impl LoginLimiter {
    /// `Err(seconds to wait)` when `ip` failed [`MAX_FAILURES`] times in the last minute.
    ///
    /// # Errors
    /// The seconds until the oldest of those failures leaves the window (at least 1).
    pub fn check(&self, ip: IpAddr, now: i64) -> Result<(), i64> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(times) = failures.get_mut(&ip) else {
            return Ok(());
        };
        while times.front().is_some_and(|t| *t <= now - WINDOW_SECS) {
            times.pop_front();
        }
        if times.len() >= MAX_FAILURES {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + WINDOW_SECS - now).max(1));
        }
        Ok(())
    }

    /// Records a failed login from `ip` at `now`.
    pub fn failed(&self, ip: IpAddr, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= MAX_ADDRESSES {
            failures.retain(|_, times| times.back().is_some_and(|t| *t > now - WINDOW_SECS));
        }
        let times = failures.entry(ip).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    /// Forgets the failures of `ip` (after a successful login).
    pub fn succeeded(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_a_minute_then_wait() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for t in 0..5 {
            assert_eq!(limiter.check(ip, 100 + t), Ok(()));
            limiter.failed(ip, 100 + t);
        }
        assert_eq!(limiter.check(ip, 110), Err(50));
        assert_eq!(limiter.check(other, 110), Ok(()), "per address");
        assert_eq!(limiter.check(ip, 160), Ok(()), "the oldest left the window");
        limiter.failed(ip, 160);
        assert!(limiter.check(ip, 160).is_err());
        limiter.succeeded(ip);
        assert_eq!(limiter.check(ip, 160), Ok(()));
    }
}
