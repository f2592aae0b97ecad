//! Per-process accounting of chat profiles: questions per follower per minute, tokens spent
//! per day (Beijing time), and which followers have an answer streaming right now.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

/// Seconds east of UTC of the day the budget counts (China Standard Time).
const BUDGET_TZ_OFFSET_SECS: i64 = 8 * 3600;
/// Followers remembered before old windows are swept.
const SWEEP_AT: usize = 10_000;

/// The counters of every chat profile; shared by all rules for the life of the process
/// (reloading the config keeps them).
#[derive(Debug, Default)]
pub struct ChatLedger {
    state: Mutex<LedgerState>,
}

#[derive(Debug, Default)]
struct LedgerState {
    /// Unix seconds of the recent questions, by (profile, openid).
    asks: HashMap<(String, String), VecDeque<i64>>,
    /// (day number, tokens) by profile.
    spent: HashMap<String, (i64, u64)>,
    /// (profile, openid) with an answer streaming.
    streaming: HashSet<(String, String)>,
}

fn day_of(now: i64) -> i64 {
    (now + BUDGET_TZ_OFFSET_SECS).div_euclid(86_400)
}

impl ChatLedger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Count a question of `openid` at `now` (Unix seconds) when it is within
    /// `per_minute` questions over the last 60 seconds (always, without a limit).
    pub fn admit(&self, profile: &str, openid: &str, now: i64, per_minute: Option<u32>) -> bool {
        let Some(limit) = per_minute else {
            return true;
        };
        let mut state = self.lock();
        if state.asks.len() >= SWEEP_AT {
            state
                .asks
                .retain(|_, times| times.back().is_some_and(|&t| t > now - 60));
        }
        let times = state
            .asks
            .entry((profile.to_owned(), openid.to_owned()))
            .or_default();
        while times.front().is_some_and(|&t| t <= now - 60) {
            times.pop_front();
        }
        if times.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
            return false;
        }
        times.push_back(now);
        true
    }

    /// Tokens `profile` spent on the day of `now`.
    #[must_use]
    pub fn spent_today(&self, profile: &str, now: i64) -> u64 {
        match self.lock().spent.get(profile) {
            Some(&(day, tokens)) if day == day_of(now) => tokens,
            _ => 0,
        }
    }

    /// Whether `profile` may still spend tokens today under `budget` (always, without one).
    #[must_use]
    pub fn within_budget(&self, profile: &str, now: i64, budget: Option<u64>) -> bool {
        budget.is_none_or(|b| self.spent_today(profile, now) < b)
    }

    /// Add `tokens` to the day of `now`.
    pub fn spend(&self, profile: &str, now: i64, tokens: u64) {
        let today = day_of(now);
        let mut state = self.lock();
        let entry = state.spent.entry(profile.to_owned()).or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        entry.1 = entry.1.saturating_add(tokens);
    }

    /// Mark an answer for `openid` as streaming (or done, with `false`).
    pub fn set_streaming(&self, profile: &str, openid: &str, streaming: bool) {
        let key = (profile.to_owned(), openid.to_owned());
        let mut state = self.lock();
        if streaming {
            state.streaming.insert(key);
        } else {
            state.streaming.remove(&key);
        }
    }

    /// Whether an answer for `openid` is streaming.
    #[must_use]
    pub fn is_streaming(&self, profile: &str, openid: &str) -> bool {
        self.lock()
            .streaming
            .contains(&(profile.to_owned(), openid.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_is_a_sliding_minute_per_follower() {
        let l = ChatLedger::new();
        assert!(l.admit("p", "a", 1000, Some(2)));
        assert!(l.admit("p", "a", 1010, Some(2)));
        assert!(!l.admit("p", "a", 1020, Some(2)));
        assert!(l.admit("p", "b", 1020, Some(2)), "another follower");
        assert!(
            l.admit("p", "a", 1060, Some(2)),
            "the first one left the window"
        );
        assert!(l.admit("p", "a", 1061, None));
    }

    #[test]
    fn budget_resets_at_beijing_midnight() {
        let l = ChatLedger::new();
        // 2026-12-05 15:59:59 UTC = 23:59:59 in Beijing.
        let before = 1_796_486_399;
        l.spend("p", before, 90);
        assert!(l.within_budget("p", before, Some(100)));
        l.spend("p", before, 10);
        assert!(!l.within_budget("p", before, Some(100)));
        assert!(l.within_budget("p", before + 1, Some(100)), "a new day");
        assert_eq!(l.spent_today("p", before + 1), 0);
        assert!(l.within_budget("p", before, None));
    }

    #[test]
    fn streaming_marks() {
        let l = ChatLedger::new();
        l.set_streaming("p", "a", true);
        assert!(l.is_streaming("p", "a"));
        assert!(!l.is_streaming("q", "a"));
        l.set_streaming("p", "a", false);
        assert!(!l.is_streaming("p", "a"));
    }
}
