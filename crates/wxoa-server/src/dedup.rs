//! In-memory dedup with coalescing: the platform's retries of one push share one handling.
//!
//! The platform re-sends a push it got no answer to within 5 s, twice, with the same MsgId (or,
//! for events, the same CreateTime). The first delivery [`claims`](Dedup::claim) the key and
//! computes the answer; a retry that arrives while that work is in flight waits for the same
//! answer; a retry that arrives later gets the cached answer. Entries live for the window
//! (≥ 60 s) and are swept lazily, a shard at a time, so memory follows the request rate.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The smallest window the platform's retry schedule allows (retries come within ~15 s).
pub const MIN_WINDOW: Duration = Duration::from_secs(60);

const SHARDS: usize = 16;

/// A dedup key, hashed to 128 bits so entries stay small (collisions are ~2⁻¹²⁸).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(u64, u64);

impl Key {
    fn of(text: &str) -> Self {
        let half = |salt: u8| {
            let mut h = std::hash::DefaultHasher::new();
            salt.hash(&mut h);
            text.hash(&mut h);
            h.finish()
        };
        Self(half(0x5a), half(0xa5))
    }

    fn shard(self) -> usize {
        // The low bits of a SipHash output are uniform.
        usize::try_from(self.0 % SHARDS as u64).unwrap_or(0)
    }
}

#[derive(Debug)]
enum Slot<T> {
    Pending(watch::Receiver<Option<T>>),
    Done { answer: T, at: Instant },
}

#[derive(Debug)]
struct Shard<T> {
    slots: HashMap<Key, Slot<T>>,
    last_sweep: Instant,
}

/// What a delivery should do with its key.
#[derive(Debug)]
pub enum Claim<T> {
    /// The first delivery: compute the answer and hand it to [`Pending::complete`].
    First(Pending<T>),
    /// A retry while the first delivery is still being handled: wait for its answer.
    InFlight(Waiter<T>),
    /// A retry after the answer was produced.
    Cached(T),
}

/// The right (and duty) to produce the answer for one key.
///
/// Dropping it without completing removes the key, so a later retry is handled afresh, and
/// wakes the waiters with [`Waiter::wait`] returning `None`.
#[derive(Debug)]
pub struct Pending<T> {
    dedup: Arc<Inner<T>>,
    key: Key,
    sender: Option<watch::Sender<Option<T>>>,
}

/// A handle on an answer still being produced.
#[derive(Debug)]
pub struct Waiter<T>(watch::Receiver<Option<T>>);

impl<T: Clone> Waiter<T> {
    /// The answer, or `None` when the producer gave up (dropped its [`Pending`]).
    pub async fn wait(mut self) -> Option<T> {
        match self.0.wait_for(Option::is_some).await {
            Ok(value) => value.clone(),
            Err(_) => None,
        }
    }
}

#[derive(Debug)]
struct Inner<T> {
    shards: Vec<Mutex<Shard<T>>>,
    window: Duration,
}

/// The dedup table. Cheap to clone (shared).
#[derive(Debug)]
pub struct Dedup<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Dedup<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Clone> Dedup<T> {
    /// A table keeping answers for `window` (raised to [`MIN_WINDOW`] if shorter).
    #[must_use]
    pub fn new(window: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS)
                    .map(|_| {
                        Mutex::new(Shard {
                            slots: HashMap::new(),
                            last_sweep: now,
                        })
                    })
                    .collect(),
                window: window.max(MIN_WINDOW),
            }),
        }
    }

    /// Claim `key` for one delivery.
    pub fn claim(&self, key: &str) -> Claim<T> {
        let key = Key::of(key);
        let now = Instant::now();
        let window = self.inner.window;
        let mut shard = self.inner.shards[key.shard()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if now.duration_since(shard.last_sweep) >= window / 4 {
            shard.slots.retain(|_, slot| match slot {
                Slot::Pending(_) => true,
                Slot::Done { at, .. } => now.duration_since(*at) < window,
            });
            shard.last_sweep = now;
        }
        match shard.slots.get(&key) {
            Some(Slot::Done { answer, at }) if now.duration_since(*at) < window => {
                return Claim::Cached(answer.clone());
            }
            Some(Slot::Pending(rx)) => return Claim::InFlight(Waiter(rx.clone())),
            _ => {}
        }
        let (sender, rx) = watch::channel(None);
        shard.slots.insert(key, Slot::Pending(rx));
        Claim::First(Pending {
            dedup: Arc::clone(&self.inner),
            key,
            sender: Some(sender),
        })
    }

    /// How many keys are remembered (pending or done), for metrics and tests.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).slots.len())
            .sum()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Clone> Pending<T> {
    /// Record the answer for retries and wake everyone waiting for it.
    pub fn complete(mut self, answer: T) {
        let mut shard = self.dedup.shards[self.key.shard()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shard.slots.insert(
            self.key,
            Slot::Done {
                answer: answer.clone(),
                at: Instant::now(),
            },
        );
        drop(shard);
        if let Some(sender) = self.sender.take() {
            // Nobody waiting is fine.
            let _ = sender.send(Some(answer));
        }
    }

    /// A waiter for this pending answer (for the delivery that claimed it, when the work runs
    /// in a task of its own).
    #[must_use]
    pub fn waiter(&self) -> Waiter<T> {
        Waiter(
            self.sender
                .as_ref()
                .map_or_else(|| watch::channel(None).1, watch::Sender::subscribe),
        )
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        if self.sender.is_some() {
            let mut shard = self.dedup.shards[self.key.shard()]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if matches!(shard.slots.get(&self.key), Some(Slot::Pending(_))) {
                shard.slots.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_claim_then_cached() {
        let d: Dedup<u32> = Dedup::new(MIN_WINDOW);
        let Claim::First(p) = d.claim("a") else {
            panic!("expected First")
        };
        p.complete(7);
        assert!(matches!(d.claim("a"), Claim::Cached(7)));
        assert!(matches!(d.claim("b"), Claim::First(_)));
    }

    #[tokio::test]
    async fn retry_in_flight_waits_for_the_first_answer() {
        let d: Dedup<&'static str> = Dedup::new(MIN_WINDOW);
        let Claim::First(p) = d.claim("k") else {
            panic!("expected First")
        };
        let Claim::InFlight(w) = d.claim("k") else {
            panic!("expected InFlight")
        };
        let waiting = tokio::spawn(w.wait());
        tokio::task::yield_now().await;
        p.complete("reply");
        assert_eq!(waiting.await.unwrap(), Some("reply"));
    }

    #[tokio::test]
    async fn abandoned_work_frees_the_key_and_wakes_waiters() {
        let d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        let Claim::First(p) = d.claim("k") else {
            panic!("expected First")
        };
        let Claim::InFlight(w) = d.claim("k") else {
            panic!("expected InFlight")
        };
        drop(p);
        assert_eq!(w.wait().await, None);
        assert!(matches!(d.claim("k"), Claim::First(_)));
    }

    #[tokio::test]
    async fn waiter_of_the_first_claim_sees_the_answer() {
        let d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        let Claim::First(p) = d.claim("k") else {
            panic!("expected First")
        };
        let w = p.waiter();
        p.complete(3);
        assert_eq!(w.wait().await, Some(3));
    }

    #[test]
    fn window_is_at_least_sixty_seconds() {
        let d: Dedup<u8> = Dedup::new(Duration::from_secs(1));
        assert_eq!(d.inner.window, MIN_WINDOW);
    }

    #[test]
    fn expired_answers_are_swept() {
        let d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        for i in 0..100 {
            let Claim::First(p) = d.claim(&format!("k{i}")) else {
                panic!("expected First")
            };
            p.complete(1);
        }
        assert_eq!(d.len(), 100);
        let long_ago = Instant::now()
            .checked_sub(MIN_WINDOW * 2)
            .expect("monotonic clock far enough from boot");
        for shard in &d.inner.shards {
            let mut s = shard.lock().unwrap();
            for slot in s.slots.values_mut() {
                if let Slot::Done { at, .. } = slot {
                    *at = long_ago;
                }
            }
            s.last_sweep = long_ago;
        }
        // Expired entries are not served even before a sweep removes them...
        assert!(matches!(d.claim("k1"), Claim::First(_)));
        // ...and claiming in every shard sweeps them all.
        for i in 0..1000 {
            drop(d.claim(&format!("other{i}")));
        }
        assert_eq!(d.len(), 0);
    }
}
