//! In-memory dedup with coalescing: the platform's retries of one push share one handling.
//!
//! The platform re-sends a push it got no answer to within 5 s, twice, with the same MsgId (or,
//! for events, the same CreateTime). The first delivery [`claims`](Dedup::claim) the key and
//! computes the answer; a retry that arrives while that work is in flight waits for the same
//! answer; a retry that arrives later gets the cached answer. Entries live for the window
//! (≥ 60 s) and are swept lazily, a shard at a time, so memory follows the request rate: a key
//! costs a 24-byte table slot plus its answer, and an answer equal to one stored recently (a
//! fixed reply) is shared, not copied.
//!
//! A new key is claimed in a small table that stays in the CPU's cache; the big table behind it
//! is read only when its filter says it may hold the key (a retry, or about one new key in 50),
//! and takes the small table's keys a batch at a time. So the common claim, a push never seen
//! before, does not wait on memory for a random slot of a table of megabytes.
//!
//! The table holds at most `max_keys` keys (`server.dedup_max_keys`), so memory stays bounded
//! whatever the rate: when a shard is full, its oldest answers make room early (counted in
//! `wxoa_dedup_evicted_total`, and logged with the window actually kept). At the default that
//! happens only above ~930 new pushes a second, sustained for a minute; the platform's
//! retries (within ~15 s) stay covered up to four times that.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The smallest window the platform's retry schedule allows (retries come within ~15 s).
pub const MIN_WINDOW: Duration = Duration::from_secs(60);

const SHARDS: usize = 16;

/// The default bound on remembered keys: about 1.6 MB of table at most (each shard's big table
/// then stays within 4096 slots, 3500 of them used, below the 3584 that would make it grow),
/// with 64 KiB of filters and 50 KiB of young tables.
pub const DEFAULT_MAX_KEYS: usize = 56_000;

/// The smallest accepted bound (a shard must hold a few keys).
pub const MIN_MAX_KEYS: usize = 1024;

/// How often (seconds) an eviction is logged at most.
const EVICTION_LOG_EVERY: u32 = 60;
/// How often (as a fraction of the window) a shard drops its expired answers: the table holds
/// at most `window × (1 + 1/SWEEPS_PER_WINDOW)` worth of keys.
const SWEEPS_PER_WINDOW: u32 = 8;

/// How many distinct answers a shard remembers to share: keys answered with a fixed reply (a
/// welcome, a help text, `success`) then cost one table slot each, not a copy each.
const SHARED_ANSWERS: usize = 4;

/// Keys a shard's young table takes before they move to its big table (fewer when the bound
/// is small, see [`young_max`]): the young tables of all shards then fit in a few dozen KiB.
const YOUNG_KEYS: usize = 64;

/// How many keys a shard's young table takes when the shard holds at most `shard_max_keys`.
fn young_max(shard_max_keys: usize) -> usize {
    YOUNG_KEYS.min(shard_max_keys / 4).max(1)
}

/// Bits of a shard's filter per key of its bound: with three bits a key, about one key in 50
/// not in the big table is looked for there anyway.
const FILTER_BITS_PER_KEY: usize = 8;

/// After this many answers not found among the shared ones, their hit counts are halved, so a
/// reply that stopped being used gives its place up.
const SHARED_DECAY_EVERY: u32 = 256;

/// A dedup key: the text hashed to 64 bits with the table's random SipHash keys, so an entry
/// stays small (24 bytes with its slot) and nobody outside the process can predict where a key
/// lands in the table. Two different keys share a hash with a chance of about one in 10¹⁵ per
/// push against a full table, far below anything an account sends in its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(u64);

impl Key {
    fn of(text: &str, keys: &RandomState) -> Self {
        Self::of_pieces(|piece| piece(text), keys)
    }

    /// The key of the text `write` hands over in pieces: the key of the pieces joined (SipHash
    /// reads a stream of bytes, wherever the writes split it).
    fn of_pieces(write: impl FnOnce(&mut dyn FnMut(&str)), keys: &RandomState) -> Self {
        let mut hasher = keys.build_hasher();
        write(&mut |piece: &str| hasher.write(piece.as_bytes()));
        Self(hasher.finish())
    }

    /// The shard: bits 32 to 35 of the hash, which neither the table's bucket index (its low
    /// bits) nor its 7-bit tags (the top bits) use, so keys spread evenly within a shard too.
    fn shard(self) -> usize {
        usize::try_from((self.0 >> 32) % SHARDS as u64).unwrap_or(0)
    }

    /// The key's word in a filter of `words` words (a power of two; bits 36 up, above the
    /// shard's) and its three bits in that word (the top 18 bits).
    fn filter_place(self, words: usize) -> (usize, u64) {
        let word = usize::try_from(self.0 >> 36).unwrap_or(0) & (words - 1);
        let bits = (1u64 << ((self.0 >> 46) & 63))
            | (1u64 << ((self.0 >> 52) & 63))
            | (1u64 << ((self.0 >> 58) & 63));
        (word, bits)
    }
}

/// Which keys a shard's big table may hold: a Bloom filter of one 64-bit word a key (three bits
/// in it), small enough to stay in cache. It has no false negatives; a key removed from the
/// table keeps its bits until the filter is rebuilt (after a sweep or an eviction), which only
/// costs a useless look.
#[derive(Debug)]
struct Filter {
    words: Box<[u64]>,
}

impl Filter {
    /// A filter for up to `keys` keys.
    fn for_keys(keys: usize) -> Self {
        let words = (keys * FILTER_BITS_PER_KEY / 64).max(1).next_power_of_two();
        Self {
            words: vec![0; words].into_boxed_slice(),
        }
    }

    fn add(&mut self, key: Key) {
        let (word, bits) = key.filter_place(self.words.len());
        self.words[word] |= bits;
    }

    fn may_hold(&self, key: Key) -> bool {
        let (word, bits) = key.filter_place(self.words.len());
        self.words[word] & bits == bits
    }

    /// Forget every key, then add `keys`.
    fn rebuild<'k>(&mut self, keys: impl Iterator<Item = &'k Key>) {
        self.words.fill(0);
        for &key in keys {
            self.add(key);
        }
    }
}

/// Hashes a [`Key`] as itself: the key already is a keyed SipHash output, so hashing it again
/// would only cost time.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `Key` (its field arrives through `write_u64`); kept correct anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Slots<T> = HashMap<Key, Slot<T>, BuildHasherDefault<KeyHasher>>;

#[derive(Debug)]
enum Slot<T> {
    /// Being handled. The channel is only made when somebody has to wait for the answer (a
    /// retry while in flight, or [`Pending::waiter`]); the common case allocates nothing.
    Pending(Option<watch::Sender<Option<T>>>),
    /// Answered, at `at` seconds after the table was made.
    Done { answer: T, at: u32 },
}

impl<T> Slot<T> {
    /// The sender of a pending slot, made on first use.
    fn sender(sender: &mut Option<watch::Sender<Option<T>>>) -> &watch::Sender<Option<T>> {
        sender.get_or_insert_with(|| watch::Sender::new(None))
    }
}

#[derive(Debug)]
struct Shard<T> {
    /// The keys claimed since the last move into `slots` (fewer than [`young_max`]).
    young: Slots<T>,
    /// Every older key.
    slots: Slots<T>,
    /// Which keys `slots` may hold.
    filter: Filter,
    last_sweep: u32,
    /// No answer in `slots` is older than this (`u32::MAX`: none); a sweep that could not
    /// remove anything is skipped.
    oldest: u32,
    /// Answers to share.
    shared: [Option<Shared<T>>; SHARED_ANSWERS],
    /// Answers not found among `shared` since the counts were last halved.
    misses: u32,
    /// Stamps the answers that enter `shared`, oldest first.
    entered: u64,
}

/// An answer kept to be shared.
#[derive(Debug)]
struct Shared<T> {
    answer: T,
    /// How often it was reused (halved every [`SHARED_DECAY_EVERY`] misses).
    hits: u32,
    /// When it entered (a per-shard counter).
    entered: u64,
}

impl<T> Shard<T> {
    /// The slot of `key`, in whichever table holds it.
    fn find(&mut self, key: Key) -> Option<&mut Slot<T>> {
        if let Some(slot) = self.young.get_mut(&key) {
            return Some(slot);
        }
        if self.filter.may_hold(key) {
            self.slots.get_mut(&key)
        } else {
            None
        }
    }

    /// Remove `key` from whichever table holds it.
    fn remove(&mut self, key: Key) -> Option<Slot<T>> {
        self.young.remove(&key).or_else(|| {
            if self.filter.may_hold(key) {
                self.slots.remove(&key)
            } else {
                None
            }
        })
    }

    /// Remember a new key: in the young table, which moves to the big one when full.
    fn insert_new(&mut self, key: Key, slot: Slot<T>, shard_max_keys: usize) {
        self.young.insert(key, slot);
        if self.young.len() >= young_max(shard_max_keys) {
            self.move_young(shard_max_keys);
        }
    }

    /// Move the young table's keys into the big table (growing it as [`grow_at_once`] says).
    fn move_young(&mut self, shard_max_keys: usize) {
        let Self {
            young,
            slots,
            filter,
            ..
        } = self;
        for (key, slot) in young.drain() {
            grow_at_once(slots, shard_max_keys);
            filter.add(key);
            slots.insert(key, slot);
        }
    }

    /// Keys remembered, in both tables.
    fn len(&self) -> usize {
        self.young.len() + self.slots.len()
    }
}

impl<T: Clone + PartialEq> Shard<T> {
    /// `answer`, or an equal answer already stored (shared, so the table holds one copy).
    ///
    /// A new answer takes the place of the least reused one, the oldest among equals: a run of
    /// one-off answers (templated replies) churns among themselves while the fixed replies,
    /// reused, keep their places.
    fn share(&mut self, answer: T) -> T {
        for shared in self.shared.iter_mut().flatten() {
            if shared.answer == answer {
                shared.hits = shared.hits.saturating_add(1);
                return shared.answer.clone();
            }
        }
        self.misses += 1;
        if self.misses >= SHARED_DECAY_EVERY {
            self.misses = 0;
            for shared in self.shared.iter_mut().flatten() {
                shared.hits /= 2;
            }
        }
        self.entered += 1;
        let place = self
            .shared
            .iter()
            .enumerate()
            .min_by_key(|(_, slot)| slot.as_ref().map_or((0, 0), |s| (s.hits, s.entered)))
            .map_or(0, |(i, _)| i);
        self.shared[place] = Some(Shared {
            answer: answer.clone(),
            hits: 0,
            entered: self.entered,
        });
        answer
    }
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
    /// When the key was claimed (`Inner::now` seconds).
    claimed_at: u32,
    completed: bool,
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
    /// The window in whole seconds (entries live between `window` and `window + 1` s).
    window: u32,
    /// Seconds between two sweeps of a shard.
    sweep_every: u32,
    /// The origin of the `at` stamps.
    epoch: Instant,
    /// The SipHash keys of [`Key::of`], random per table.
    keys: RandomState,
    /// The most keys a shard holds before its oldest answers are evicted.
    shard_max_keys: usize,
    /// When an eviction was last logged (`now()` seconds; `u32::MAX`: never).
    evictions_logged_at: std::sync::atomic::AtomicU32,
}

impl<T> Inner<T> {
    /// Whole seconds since the table was made (saturating after 136 years).
    fn now(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    fn shard(&self, key: Key) -> std::sync::MutexGuard<'_, Shard<T>> {
        self.shards[key.shard()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an answer stamped `at` is past the window at `now`.
    fn expired(&self, at: u32, now: u32) -> bool {
        now.saturating_sub(at) > self.window
    }
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
    /// A table keeping answers for `window` (raised to [`MIN_WINDOW`] if shorter), holding at
    /// most [`DEFAULT_MAX_KEYS`] keys.
    #[must_use]
    pub fn new(window: Duration) -> Self {
        Self::with_max_keys(window, DEFAULT_MAX_KEYS)
    }

    /// A table keeping answers for `window` (raised to [`MIN_WINDOW`] if shorter), holding at
    /// most `max_keys` keys (raised to [`MIN_MAX_KEYS`]); beyond that the oldest answers are
    /// evicted before their window ends. Keys still being handled are never evicted.
    #[must_use]
    pub fn with_max_keys(window: Duration, max_keys: usize) -> Self {
        let window = u32::try_from(window.max(MIN_WINDOW).as_secs()).unwrap_or(u32::MAX);
        let shard_max_keys = max_keys.max(MIN_MAX_KEYS).div_ceil(SHARDS);
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS)
                    .map(|_| {
                        Mutex::new(Shard {
                            young: Slots::with_capacity_and_hasher(
                                young_max(shard_max_keys),
                                BuildHasherDefault::default(),
                            ),
                            slots: Slots::default(),
                            filter: Filter::for_keys(shard_max_keys),
                            last_sweep: 0,
                            oldest: u32::MAX,
                            shared: std::array::from_fn(|_| None),
                            misses: 0,
                            entered: 0,
                        })
                    })
                    .collect(),
                window,
                sweep_every: (window / SWEEPS_PER_WINDOW).max(1),
                epoch: Instant::now(),
                keys: RandomState::new(),
                shard_max_keys,
                evictions_logged_at: std::sync::atomic::AtomicU32::new(u32::MAX),
            }),
        }
    }

    /// Claim `key` for one delivery.
    pub fn claim(&self, key: &str) -> Claim<T> {
        self.claim_key(Key::of(key, &self.inner.keys))
    }

    /// [`Dedup::claim`] of the key whose text `write_key` hands over in pieces (as
    /// [`Inbound::dedup_key_pieces`](wxoa_proto::message::Inbound::dedup_key_pieces) does), without
    /// building the text: the same claim as `claim` of the pieces joined.
    pub fn claim_pieces(&self, write_key: impl FnOnce(&mut dyn FnMut(&str))) -> Claim<T> {
        self.claim_key(Key::of_pieces(write_key, &self.inner.keys))
    }

    fn claim_key(&self, key: Key) -> Claim<T> {
        let inner = &self.inner;
        let now = inner.now();
        let mut shard = inner.shard(key);
        if now.saturating_sub(shard.last_sweep) >= inner.sweep_every
            && inner.expired(shard.oldest, now)
        {
            sweep(&mut shard, inner, now);
        }
        match shard.find(key) {
            Some(Slot::Done { answer, at }) if !inner.expired(*at, now) => {
                return Claim::Cached(answer.clone());
            }
            Some(Slot::Pending(sender)) => {
                return Claim::InFlight(Waiter(Slot::sender(sender).subscribe()));
            }
            // An expired answer not swept yet: handle afresh.
            Some(slot) => *slot = Slot::Pending(None),
            None => shard.insert_new(key, Slot::Pending(None), inner.shard_max_keys),
        }
        if shard.len() > inner.shard_max_keys {
            evict_oldest(&mut shard, inner, now);
        }
        Claim::First(Pending {
            dedup: Arc::clone(inner),
            key,
            claimed_at: now,
            completed: false,
        })
    }

    /// How many keys are remembered (pending or done), for metrics and tests.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Before a table grows: past an eighth of its bound, make room for the whole bound at once.
/// Doubling all the way would leave each smaller table behind as free heap, twice the memory
/// at the peak; the new slots become resident only as keys fill them.
fn grow_at_once<T>(slots: &mut Slots<T>, shard_max_keys: usize) {
    let len = slots.len();
    if len == slots.capacity() && len >= shard_max_keys / 8 {
        slots.reserve((shard_max_keys + 1).saturating_sub(len).max(1));
    }
}

/// Drop the expired answers of one shard, and give back the memory of a burst that has passed.
fn sweep<T>(shard: &mut Shard<T>, inner: &Inner<T>, now: u32) {
    keep_answers(shard, |at| !inner.expired(at, now));
    shard.last_sweep = now;
    let (len, capacity) = (shard.slots.len(), shard.slots.capacity());
    if capacity > 1024 && len < capacity / 4 {
        shard.slots.shrink_to(len * 2);
    }
}

/// Keep the pending keys and the answers stamped `at` for which `keep(at)` holds; update the
/// shard's oldest stamp. Returns how many answers went.
fn keep_answers<T>(shard: &mut Shard<T>, keep: impl Fn(u32) -> bool) -> usize {
    let before = (shard.young.len(), shard.slots.len());
    let mut oldest = u32::MAX;
    let mut retain = |_: &Key, slot: &mut Slot<T>| match slot {
        Slot::Pending(_) => true,
        Slot::Done { at, .. } => {
            let kept = keep(*at);
            if kept {
                oldest = oldest.min(*at);
            }
            kept
        }
    };
    shard.young.retain(&mut retain);
    shard.slots.retain(&mut retain);
    shard.oldest = oldest;
    if shard.slots.len() < before.1 {
        shard.filter.rebuild(shard.slots.keys());
    }
    before.0 + before.1 - shard.len()
}

/// Make room in a full shard: drop the answers of the older half of the time it spans (all of
/// them when they are all from this second). Pending keys stay.
fn evict_oldest<T>(shard: &mut Shard<T>, inner: &Inner<T>, now: u32) {
    let oldest = shard.oldest.min(now);
    let cutoff = oldest + (now - oldest) / 2;
    let evicted = keep_answers(shard, |at| at > cutoff);
    if evicted == 0 {
        return;
    }
    metrics::counter!(crate::metrics::DEDUP_EVICTED).increment(evicted as u64);
    let logged = inner.evictions_logged_at.load(Ordering::Relaxed);
    if logged == u32::MAX || now.saturating_sub(logged) >= EVICTION_LOG_EVERY {
        inner.evictions_logged_at.store(now, Ordering::Relaxed);
        tracing::warn!(
            max_keys = inner.shard_max_keys * SHARDS,
            kept_secs = now - cutoff,
            window_secs = inner.window,
            "dedup table full: answers are kept for only ~{}s instead of {}s; raise server.dedup_max_keys (about 30 bytes a key) or add instances",
            now - cutoff,
            inner.window
        );
    }
}

impl<T: Clone + PartialEq> Pending<T> {
    /// Record the answer for retries and wake everyone waiting for it. An answer equal to one
    /// recently stored in the same shard is kept as a clone of that one (for `Arc` answers: one
    /// allocation shared by every key answered alike).
    pub fn complete(self, answer: T) {
        let at = self.dedup.now();
        self.complete_stamped(answer, at);
    }

    /// [`Pending::complete`] for an answer computed right after the claim, without waiting on
    /// anything: stamped with the claim's time, which spares a clock read on every push answered
    /// at once (the window then ends within a second of where `complete` would put it).
    pub fn complete_immediately(self, answer: T) {
        let at = self.claimed_at;
        self.complete_stamped(answer, at);
    }

    fn complete_stamped(mut self, answer: T, at: u32) {
        self.completed = true;
        let inner = &self.dedup;
        let mut shard = inner.shard(self.key);
        let stored = shard.share(answer.clone());
        shard.oldest = shard.oldest.min(at);
        let done = Slot::Done { answer: stored, at };
        let previous = match shard.find(self.key) {
            Some(slot) => Some(std::mem::replace(slot, done)),
            // Not reached while `self` lives (pending keys are never dropped); kept correct.
            None => {
                shard.insert_new(self.key, done, inner.shard_max_keys);
                None
            }
        };
        drop(shard);
        // Wake the waiters outside the lock; with nobody waiting there is no channel at all.
        if let Some(Slot::Pending(Some(sender))) = previous {
            sender.send_replace(Some(answer));
        }
    }
}

impl<T: Clone> Pending<T> {
    /// A waiter for this pending answer (for the delivery that claimed it, when the work runs
    /// in a task of its own).
    #[must_use]
    pub fn waiter(&self) -> Waiter<T> {
        let mut shard = self.dedup.shard(self.key);
        match shard.find(self.key) {
            Some(Slot::Pending(sender)) => Waiter(Slot::sender(sender).subscribe()),
            // Unreachable while `self` lives (only its owner replaces a pending slot); a
            // closed channel makes `wait` answer `None` rather than hang.
            _ => Waiter(watch::channel(None).1),
        }
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        if self.completed {
            return;
        }
        let mut shard = self.dedup.shard(self.key);
        let removed = match shard.find(self.key) {
            Some(Slot::Pending(_)) => shard.remove(self.key),
            _ => None,
        };
        drop(shard);
        // Dropping the sender (outside the lock) wakes the waiters with `None`.
        drop(removed);
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
        assert_eq!(u64::from(d.inner.window), MIN_WINDOW.as_secs());
        let d: Dedup<u8> = Dedup::new(Duration::from_secs(120));
        assert_eq!(d.inner.window, 120);
        assert_eq!(d.inner.sweep_every, 15);
    }

    /// Age every answer (and sweep stamp) by `secs` seconds, as if time had passed (the stamps
    /// must be at least `secs`: [`advance`] the table first).
    fn age(d: &Dedup<u8>, secs: u32) {
        for shard in &d.inner.shards {
            let mut s = shard.lock().unwrap();
            let s = &mut *s;
            for slot in s.young.values_mut().chain(s.slots.values_mut()) {
                if let Slot::Done { at, .. } = slot {
                    *at = at.saturating_sub(secs);
                }
            }
            s.last_sweep = s.last_sweep.saturating_sub(secs);
            if s.oldest != u32::MAX {
                s.oldest = s.oldest.saturating_sub(secs);
            }
        }
    }

    /// Shift the table's epoch back, so `now()` is `secs` later than the stamps.
    fn advance(d: &mut Dedup<u8>, secs: u64) {
        let inner = Arc::get_mut(&mut d.inner).expect("no other handle");
        inner.epoch = inner
            .epoch
            .checked_sub(Duration::from_secs(secs))
            .expect("monotonic clock far enough from boot");
    }

    #[test]
    fn expired_answers_are_swept() {
        let mut d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        for i in 0..100 {
            let Claim::First(p) = d.claim(&format!("k{i}")) else {
                panic!("expected First")
            };
            p.complete(1);
        }
        assert_eq!(d.len(), 100);
        // Exactly at the window's end an answer still counts...
        advance(&mut d, MIN_WINDOW.as_secs());
        assert!(matches!(d.claim("k1"), Claim::Cached(1)));
        // ...a second later it does not, even before a sweep removes it...
        advance(&mut d, 1);
        assert!(matches!(d.claim("k2"), Claim::First(_)));
        // ...and once every shard is due for a sweep, claiming in each removes them all.
        let sweep_every = u64::from(d.inner.sweep_every);
        advance(&mut d, sweep_every);
        for i in 0..1000 {
            drop(d.claim(&format!("other{i}")));
        }
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn answers_within_the_window_survive_and_a_useless_sweep_is_skipped() {
        let mut d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        advance(&mut d, 1000);
        let Claim::First(p) = d.claim("kept") else {
            panic!("expected First")
        };
        p.complete(5);
        // 59 s old, and every shard due for a sweep by the clock.
        age(&d, 59);
        for i in 0..1000 {
            drop(d.claim(&format!("other{i}")));
        }
        assert_eq!(d.len(), 1);
        assert!(matches!(d.claim("kept"), Claim::Cached(5)));
        // Nothing could have expired, so no shard scanned its slots.
        for shard in &d.inner.shards {
            assert_eq!(shard.lock().unwrap().last_sweep, 0);
        }
    }

    #[test]
    fn a_sweep_keeps_pending_keys_and_drops_expired_answers() {
        let mut d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        advance(&mut d, 1000);
        let slow = keys_in_shard(&d, 7, "slow", 1).remove(0);
        let old = keys_in_shard(&d, 7, "old", 1).remove(0);
        let Claim::First(p) = d.claim(&slow) else {
            panic!("expected First")
        };
        let Claim::First(done) = d.claim(&old) else {
            panic!("expected First")
        };
        done.complete(1);
        age(&d, 600);
        for key in keys_in_shard(&d, 7, "other", 3) {
            drop(d.claim(&key));
        }
        assert_eq!(
            d.len(),
            1,
            "the expired answer is gone, the pending key stays"
        );
        assert!(matches!(d.claim(&slow), Claim::InFlight(_)));
        p.complete(9);
        assert!(matches!(d.claim(&slow), Claim::Cached(9)));
    }

    #[test]
    fn an_uncontended_claim_makes_no_channel() {
        let d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        let Claim::First(p) = d.claim("k") else {
            panic!("expected First")
        };
        let key = p.key;
        let channel =
            |d: &Dedup<u8>| matches!(d.inner.shard(key).find(key), Some(Slot::Pending(Some(_))));
        assert!(!channel(&d));
        let Claim::InFlight(w) = d.claim("k") else {
            panic!("expected InFlight")
        };
        assert!(channel(&d), "a retry in flight makes the channel");
        p.complete(2);
        assert!(matches!(d.claim("k"), Claim::Cached(2)));
        drop(w);
    }

    #[tokio::test]
    async fn several_waiters_all_get_the_answer() {
        let d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        let Claim::First(p) = d.claim("k") else {
            panic!("expected First")
        };
        let waiters: Vec<_> = (0..3)
            .map(|_| match d.claim("k") {
                Claim::InFlight(w) => tokio::spawn(w.wait()),
                other => panic!("expected InFlight, got {other:?}"),
            })
            .collect();
        let own = p.waiter();
        tokio::task::yield_now().await;
        p.complete(4);
        for w in waiters {
            assert_eq!(w.await.unwrap(), Some(4));
        }
        assert_eq!(own.wait().await, Some(4));
    }

    #[test]
    fn a_growing_table_jumps_to_its_full_size_once_past_an_eighth() {
        let d: Dedup<u8> = Dedup::with_max_keys(MIN_WINDOW, 16_000);
        let shard_max = d.inner.shard_max_keys;
        let capacities = |d: &Dedup<u8>| -> Vec<usize> {
            d.inner
                .shards
                .iter()
                .map(|s| s.lock().unwrap().slots.capacity())
                .collect()
        };
        // A few keys a shard: the table doubles as usual.
        for i in 0..160 {
            let Claim::First(p) = d.claim(&format!("k{i}")) else {
                panic!("expected First")
            };
            p.complete(0);
        }
        assert!(
            capacities(&d).iter().all(|&c| c < shard_max / 4),
            "{:?}",
            capacities(&d)
        );
        // Past an eighth of the bound, the next growth makes room for the bound at once.
        for i in 160..(shard_max * SHARDS / 3) {
            let Claim::First(p) = d.claim(&format!("k{i}")) else {
                panic!("expected First")
            };
            p.complete(0);
        }
        for capacity in capacities(&d) {
            assert!(
                capacity > shard_max && capacity < 2 * (shard_max + 1),
                "capacity {capacity} for a bound of {shard_max}"
            );
        }
    }

    #[test]
    fn a_passed_burst_gives_its_memory_back() {
        let mut d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        for i in 0..50_000 {
            let Claim::First(p) = d.claim(&format!("burst{i}")) else {
                panic!("expected First")
            };
            p.complete(0);
        }
        let capacity = |d: &Dedup<u8>| -> usize {
            d.inner
                .shards
                .iter()
                .map(|s| s.lock().unwrap().slots.capacity())
                .sum()
        };
        let before = capacity(&d);
        assert!(before >= 50_000);
        advance(&mut d, 2 * MIN_WINDOW.as_secs());
        for i in 0..1000 {
            drop(d.claim(&format!("later{i}")));
        }
        assert_eq!(d.len(), 0);
        assert!(
            capacity(&d) < before / 4,
            "capacity {} after the sweep, {before} before",
            capacity(&d)
        );
    }

    #[test]
    fn a_full_table_evicts_its_oldest_answers_and_keeps_pending_keys() {
        let mut d: Dedup<u8> = Dedup::with_max_keys(MIN_WINDOW, MIN_MAX_KEYS);
        advance(&mut d, 1000);
        let per_shard = d.inner.shard_max_keys;
        assert_eq!(per_shard, MIN_MAX_KEYS / SHARDS);
        let old = keys_in_shard(&d, 2, "old", per_shard / 2);
        let new = keys_in_shard(&d, 2, "new", per_shard / 2);
        let slow = keys_in_shard(&d, 2, "slow", 1).remove(0);
        let Claim::First(pending) = d.claim(&slow) else {
            panic!("expected First")
        };
        for key in &old {
            let Claim::First(p) = d.claim(key) else {
                panic!("expected First")
            };
            p.complete(1);
        }
        // The old answers are 40 s old (well inside the window) when the shard fills up.
        age(&d, 40);
        for key in &new {
            let Claim::First(p) = d.claim(key) else {
                panic!("expected First")
            };
            p.complete(2);
        }
        assert!(d.len() <= per_shard + 1, "{} keys", d.len());
        assert!(
            matches!(d.claim(&new[new.len() - 1]), Claim::Cached(2)),
            "the newest answers stay"
        );
        assert!(
            matches!(d.claim(&old[0]), Claim::First(_)),
            "the oldest answers made room"
        );
        assert!(
            matches!(d.claim(&slow), Claim::InFlight(_)),
            "a key in flight is never evicted"
        );
        pending.complete(3);
        // Other shards are untouched by one shard's eviction.
        let elsewhere = keys_in_shard(&d, 9, "elsewhere", 1).remove(0);
        answer_u8(&d, &elsewhere, 4);
        assert!(matches!(d.claim(&elsewhere), Claim::Cached(4)));
    }

    #[tokio::test]
    async fn keys_moved_from_the_young_table_are_found_answered_and_waited_for() {
        let d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        let young_max = young_max(d.inner.shard_max_keys);
        let keys = keys_in_shard(&d, 5, "k", 10 * young_max);
        let Claim::First(slow) = d.claim(&keys[0]) else {
            panic!("expected First")
        };
        let early_waiter = slow.waiter();
        for key in &keys[1..] {
            answer_u8(&d, key, 1);
        }
        {
            let shard = d.inner.shards[5].lock().unwrap();
            assert!(
                shard.young.len() < young_max,
                "the young table moves when full"
            );
            assert!(
                shard.slots.len() >= 9 * young_max,
                "{} keys moved",
                shard.slots.len()
            );
        }
        // Every answer is found wherever it went, and the key in flight still coalesces.
        for key in &keys[1..] {
            assert!(matches!(d.claim(key), Claim::Cached(1)), "{key}");
        }
        let Claim::InFlight(late_waiter) = d.claim(&keys[0]) else {
            panic!("expected InFlight")
        };
        slow.complete(7);
        assert_eq!(early_waiter.wait().await, Some(7));
        assert_eq!(late_waiter.wait().await, Some(7));
        assert!(matches!(d.claim(&keys[0]), Claim::Cached(7)));
        assert_eq!(d.len(), keys.len());
        // A key in flight that was moved and then given up is forgotten.
        let gone = keys_in_shard(&d, 5, "gone", 1).remove(0);
        let Claim::First(abandoned) = d.claim(&gone) else {
            panic!("expected First")
        };
        for key in keys_in_shard(&d, 5, "more", young_max) {
            answer_u8(&d, &key, 2);
        }
        drop(abandoned);
        assert!(matches!(d.claim(&gone), Claim::First(_)));
    }

    #[test]
    fn the_filter_finds_every_key_after_a_sweep_rebuilds_it() {
        let mut d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        advance(&mut d, 1000);
        let young_max = young_max(d.inner.shard_max_keys);
        let stale = keys_in_shard(&d, 3, "stale", 4 * young_max);
        for key in &stale {
            answer_u8(&d, key, 1);
        }
        age(&d, 2 * MIN_WINDOW.as_secs() as u32);
        let fresh = keys_in_shard(&d, 3, "fresh", 4 * young_max);
        for key in &fresh {
            answer_u8(&d, key, 2);
        }
        {
            let shard = d.inner.shards[3].lock().unwrap();
            assert!(
                shard.slots.len() < 4 * young_max + young_max,
                "the stale answers were swept"
            );
            for key in shard.slots.keys() {
                assert!(shard.filter.may_hold(*key), "a key the filter lost");
            }
        }
        for key in &fresh {
            assert!(matches!(d.claim(key), Claim::Cached(2)), "{key}");
        }
        for key in &stale {
            assert!(matches!(d.claim(key), Claim::First(_)), "{key}");
        }
    }

    #[test]
    fn the_filter_passes_about_one_unknown_key_in_fifty() {
        let mut filter = Filter::for_keys(DEFAULT_MAX_KEYS / SHARDS);
        let keys = RandomState::new();
        for i in 0..DEFAULT_MAX_KEYS / SHARDS {
            filter.add(Key::of(&format!("in{i}"), &keys));
        }
        let passed = (0..100_000)
            .filter(|i| filter.may_hold(Key::of(&format!("out{i}"), &keys)))
            .count();
        assert!(passed < 5_000, "{passed} of 100000 unknown keys passed");
        assert!(
            (0..DEFAULT_MAX_KEYS / SHARDS)
                .all(|i| filter.may_hold(Key::of(&format!("in{i}"), &keys)))
        );
    }

    fn answer_u8(d: &Dedup<u8>, key: &str, value: u8) {
        let Claim::First(p) = d.claim(key) else {
            panic!("expected First for {key}")
        };
        p.complete(value);
    }

    /// `n` keys starting with `prefix` that land in shard `shard` of `d`.
    fn keys_in_shard<T>(d: &Dedup<T>, shard: usize, prefix: &str, n: usize) -> Vec<String> {
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .filter(|k| Key::of(k, &d.inner.keys).shard() == shard)
            .take(n)
            .collect()
    }

    /// Answer `key` with a fresh `Arc` of `text`.
    fn answer(d: &Dedup<Arc<String>>, key: &str, text: &str) {
        let Claim::First(p) = d.claim(key) else {
            panic!("expected First for {key}")
        };
        p.complete(Arc::new(text.to_owned()));
    }

    fn cached(d: &Dedup<Arc<String>>, key: &str) -> Arc<String> {
        match d.claim(key) {
            Claim::Cached(a) => a,
            other => panic!("expected Cached for {key}, got {other:?}"),
        }
    }

    #[test]
    fn equal_answers_share_one_copy_and_distinct_ones_stay_apart() {
        let d: Dedup<Arc<String>> = Dedup::new(MIN_WINDOW);
        let fixed = keys_in_shard(&d, 3, "fixed", 20);
        let echo = keys_in_shard(&d, 3, "echo", 200);
        let mut echoes = echo.iter().enumerate();
        let mut answered = 0;
        for (n, key) in fixed.iter().enumerate() {
            answer(&d, key, "欢迎关注！");
            // Once the fixed reply has been reused, a run of one-off answers does not evict it.
            let one_offs = if n < 2 { 1 } else { 9 };
            for (i, key) in echoes.by_ref().take(one_offs) {
                answer(&d, key, &format!("you said {i}"));
                answered += 1;
            }
        }
        let first = cached(&d, &fixed[0]);
        for key in &fixed[1..] {
            let other = cached(&d, key);
            assert_eq!(*other, "欢迎关注！");
            assert!(
                Arc::ptr_eq(&first, &other),
                "{key} should share the first copy"
            );
        }
        for (i, key) in echo.iter().enumerate().take(answered) {
            assert_eq!(*cached(&d, key), format!("you said {i}"));
        }
    }

    #[test]
    fn a_reply_no_longer_used_gives_its_place_up() {
        let d: Dedup<Arc<String>> = Dedup::new(MIN_WINDOW);
        let keys = keys_in_shard(&d, 5, "k", 3200);
        let mut keys = keys.iter();
        // Four fixed replies, each reused a lot...
        for _ in 0..40 {
            for reply in ["a", "b", "c", "d"] {
                answer(&d, keys.next().unwrap(), reply);
            }
        }
        // ...then a new fixed reply among one-off answers: once the old counts have decayed,
        // it takes a place of its own.
        for i in 0..3000 {
            let key = keys.next().unwrap();
            if i % 2 == 0 {
                answer(&d, key, "new");
            } else {
                answer(&d, key, &format!("one-off {i}"));
            }
        }
        let shard = d.inner.shards[5].lock().unwrap();
        let held: Vec<&str> = shard
            .shared
            .iter()
            .flatten()
            .map(|s| s.answer.as_str())
            .collect();
        assert!(held.contains(&"new"), "shared answers: {held:?}");
    }

    #[test]
    fn an_immediate_answer_is_stamped_with_the_claim_time_a_later_one_with_its_own() {
        let mut d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        advance(&mut d, 1000);
        let stamp = |d: &Dedup<u8>, key: &str| {
            let k = Key::of(key, &d.inner.keys);
            match d.inner.shard(k).find(k) {
                Some(Slot::Done { at, .. }) => *at,
                other => panic!("{key}: {other:?}"),
            }
        };
        for (key, immediately) in [("now", true), ("later", false)] {
            let Claim::First(mut p) = d.claim(key) else {
                panic!("expected First")
            };
            // As if the claim had been made 30 s ago.
            p.claimed_at -= 30;
            if immediately {
                p.complete_immediately(1);
            } else {
                p.complete(1);
            }
        }
        assert_eq!(stamp(&d, "now"), 970);
        assert_eq!(stamp(&d, "later"), 1000);
    }

    #[test]
    fn a_key_claimed_in_pieces_is_the_key_claimed_whole() {
        let d: Dedup<u8> = Dedup::new(MIN_WINDOW);
        let Claim::First(p) = d.claim_pieces(|piece| {
            for part in ["gh_x", "|", "oUser", "|", "12", "3"] {
                piece(part);
            }
        }) else {
            panic!("expected First")
        };
        p.complete(9);
        assert!(matches!(d.claim("gh_x|oUser|123"), Claim::Cached(9)));
        assert!(matches!(
            d.claim_pieces(|piece| piece("gh_x|oUser|1234")),
            Claim::First(_)
        ));
    }

    #[test]
    fn keys_differ_between_tables_but_agree_within_one() {
        let a: Dedup<u8> = Dedup::new(MIN_WINDOW);
        let b: Dedup<u8> = Dedup::new(MIN_WINDOW);
        let ka = Key::of("gh_x|oUser|123", &a.inner.keys);
        assert_eq!(ka, Key::of("gh_x|oUser|123", &a.inner.keys));
        assert_ne!(ka, Key::of("gh_x|oUser|124", &a.inner.keys));
        assert_ne!(ka, Key::of("gh_x|oUser|123", &b.inner.keys));
    }
}
