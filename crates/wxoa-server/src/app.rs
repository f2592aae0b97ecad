//! The application state shared by every request, and the handling of one decoded push:
//! dedup/coalescing (in process, and across processes through the store), routing through the
//! rules, running slow actions under the 5-second rule, and delivering what missed the window.
//!
//! One push is handled once. The first delivery claims its dedup key and starts the work;
//! the platform's retries of it wait on the same work. Each delivery waits at most
//! `server.reply_deadline_ms`; after that the matched rule's `on_slow` policy decides what the
//! delivery answers and who delivers the result (see docs/five-second-rule.md).

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use futures_util::FutureExt as _;
use tokio::time::{Instant, sleep_until};
use wxoa_proto::limits::MAX_TEXT_REPLY_BYTES;
use wxoa_proto::message::{Inbound, Kind};
use wxoa_proto::reply::Reply;
use wxoa_proto::xml::XmlLimits;
use wxoa_store::{DedupClaim, Finish, HandOff, SharedDedup, SharedWork, WorkHandoff, WorkRecord};

use crate::actions::{HttpClient, MemorySessionStore, Services};
use crate::clock::Clock;
use crate::codec::{handled_from_json, handled_to_json};
use crate::config::{AccountConfig, Config, ServerConfig};
use crate::dedup::{Claim, Dedup, Waiter};
use crate::delivery::{Delivery, MemoryParking};
use crate::message_log::MessageLog;
use crate::metrics::PushMetrics;
use crate::push::{Checks, DecodedPush};
use crate::readiness::Readiness;
use crate::redis_fallback::RedisHealth;
use crate::rules::{OnSlow, Outcome, RuleSet};
use crate::shared_work::{Lease, SCAN_BATCH, SCAN_EVERY, WORK_LEASE, WorkPayload, fallback_for};

/// How long answers are kept for the platform's retries.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(60);
/// How long the platform waits for one delivery.
pub const PLATFORM_TIMEOUT: Duration = Duration::from_secs(5);
/// The platform's deliveries of one push (the first and two retries).
pub const PLATFORM_ATTEMPTS: u32 = 3;
/// How long a cross-process claim is held before another process may take over (slow work
/// renews a shorter one, [`WORK_LEASE`], while it runs).
const SHARED_LEASE: Duration = Duration::from_secs(30);
/// How long a delivery that finds the work finished elsewhere waits for its answer.
const FINISHED_GRACE: Duration = Duration::from_secs(1);

/// The result of handling one push: which rule answered, and with what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handled {
    /// The rule that matched, if any.
    pub rule: Option<Arc<str>>,
    /// The passive reply; `None` answers `success`.
    pub reply: Option<Reply>,
}

impl Handled {
    fn success(rule: Option<Arc<str>>) -> Self {
        Self { rule, reply: None }
    }
}

/// How a push's answer was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Handled by this delivery.
    Fresh,
    /// A retry that waited for the delivery in flight.
    Coalesced,
    /// A retry answered from the cache.
    Cached,
    /// The deadline passed and this delivery was let lapse (`on_slow = "retry"` before the last
    /// attempt, or another process's work not done in time): the platform retries, or has
    /// what it needs, and never shows this answer.
    Lapsed,
    /// The deadline passed under `on_slow = "kf"`: answered `success`, the result goes by
    /// 客服消息 (or is parked when that is refused).
    Kf,
    /// The deadline passed under `on_slow = "placeholder"` or on the last attempt of
    /// `"retry"`: answered the placeholder, the result is parked for the next message.
    Parked,
}

impl Source {
    /// `fresh`, `coalesced`, `cached`, `lapsed`, `kf` or `parked`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Coalesced => "coalesced",
            Self::Cached => "cached",
            Self::Lapsed => "lapsed",
            Self::Kf => "kf",
            Self::Parked => "parked",
        }
    }

    /// Whether the delivery carries the push's answer to the platform, so it is the one that
    /// the message log records: not a lapsed attempt (a retry follows, or another process
    /// answers) and not a repeat answered from the cache.
    #[must_use]
    pub fn is_logged(self) -> bool {
        !matches!(self, Self::Lapsed | Self::Cached)
    }
}

/// Where a result goes when no delivery can carry it as the passive reply.
type Handoff = WorkHandoff;

/// The shared work and dedup stores.
type SharedStores<'a> = (&'a Arc<dyn SharedWork>, &'a Arc<dyn SharedDedup>);

/// The shared fate of one push's work, between its deliveries and the task doing it.
#[derive(Debug)]
struct Work {
    /// The push's dedup key.
    key: String,
    rule: Arc<str>,
    on_slow: OnSlow,
    placeholder: String,
    openid: String,
    attempts: AtomicU32,
    /// The answer as it streams, for actions that stream (`chat`).
    partial: Option<crate::actions::PartialOutput>,
    /// Set once, by whoever hands the result to the follower (a delivery or a handoff).
    delivered: AtomicBool,
    /// Whether the work is recorded in the shared work store (other instances see it).
    shared: bool,
    /// How the result goes when no handoff was set: `Some` for work taken over from another
    /// instance (no delivery of this process waits for it).
    fallback: Option<Handoff>,
    state: Mutex<WorkState>,
}

/// What a new [`Work`] runs and how.
struct Job {
    rule: Arc<str>,
    call: crate::actions::ActionCall,
    on_slow: OnSlow,
    placeholder: String,
    on_error: Option<String>,
    openid: String,
    msg_id: Option<u64>,
    attempts: u32,
    shared: bool,
    fallback: Option<Handoff>,
}

#[derive(Debug, Default)]
struct WorkState {
    done: Option<Arc<Handled>>,
    handoff: Option<Handoff>,
}

impl Work {
    fn claim_delivery(&self) -> bool {
        !self.delivered.swap(true, Ordering::AcqRel)
    }
}

/// The backends a push may use beyond this process's memory.
#[derive(Debug, Clone)]
pub struct Backends {
    /// What scripts and webhooks may use.
    pub services: Services,
    /// Late delivery (客服消息, parking).
    pub delivery: Delivery,
    /// Cross-process dedup (SQLite for CGI, Redis for several instances).
    pub shared_dedup: Option<Arc<dyn SharedDedup>>,
    /// Slow work shared by instances (Redis), taken over when its instance dies.
    pub shared_work: Option<Arc<dyn SharedWork>>,
    /// The message log, when the store keeps one.
    pub message_log: Option<MessageLog>,
    /// Whether Redis answers, when `store.redis_url` is set.
    pub redis: Option<Arc<RedisHealth>>,
}

impl Backends {
    /// In-memory backends: sessions and parked results live in this process, no 客服 API.
    ///
    /// # Panics
    /// The HTTP client cannot be built (no TLS roots at all).
    #[must_use]
    pub fn in_memory(config: &Config, clock: Arc<dyn Clock>) -> Self {
        let delivery = Delivery::new(
            &config.account.appid,
            None,
            Arc::new(MemoryParking::new(Arc::clone(&clock))),
            clock,
        );
        let http = HttpClient::new().expect("an HTTP client without custom TLS always builds");
        Self {
            services: Services::new(
                Arc::new(MemorySessionStore::new()),
                Arc::new(delivery.clone()),
                http,
            ),
            delivery,
            shared_dedup: None,
            shared_work: None,
            message_log: None,
            redis: None,
        }
    }
}

/// Everything a request needs: the account, limits, the current rules, the dedup table, the
/// backends, the clock.
#[derive(Debug)]
pub struct App {
    account: AccountConfig,
    /// The account's AppID, shared by the message log's queued entries.
    appid: Arc<str>,
    server: ServerConfig,
    rules: ArcSwap<RuleSet>,
    dedup: Dedup<Arc<Handled>>,
    work: Mutex<HashMap<String, Arc<Work>>>,
    backends: Backends,
    holder: String,
    clock: Arc<dyn Clock>,
    rules_generation: tokio::sync::watch::Sender<u64>,
    metrics: PushMetrics,
}

impl App {
    /// The state for `config` with in-memory backends, reading time from `clock`.
    #[must_use]
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Self {
        let backends = Backends::in_memory(config, Arc::clone(&clock));
        Self::with_backends(config, clock, backends)
    }

    /// The state for `config` with the given backends.
    #[must_use]
    pub fn with_backends(config: &Config, clock: Arc<dyn Clock>, backends: Backends) -> Self {
        Self {
            account: config.account.clone(),
            appid: Arc::from(config.account.appid.as_str()),
            server: config.server.clone(),
            rules: ArcSwap::new(Arc::clone(&config.rules)),
            dedup: Dedup::with_max_keys(DEDUP_WINDOW, config.server.dedup_max_keys),
            work: Mutex::new(HashMap::new()),
            backends,
            holder: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            clock,
            rules_generation: tokio::sync::watch::Sender::new(0),
            metrics: PushMetrics::for_account(&config.account.name),
        }
    }

    /// The account settings.
    #[must_use]
    pub fn account(&self) -> &AccountConfig {
        &self.account
    }

    /// The account's AppID, shared.
    #[must_use]
    pub fn appid(&self) -> &Arc<str> {
        &self.appid
    }

    /// The server settings.
    #[must_use]
    pub fn server(&self) -> &ServerConfig {
        &self.server
    }

    /// The backends.
    #[must_use]
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// Now, in Unix seconds, from the injected clock.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.clock.now_unix()
    }

    /// The per-push metrics.
    pub(crate) fn push_metrics(&self) -> &PushMetrics {
        &self.metrics
    }

    /// The checks a request is held to right now.
    #[must_use]
    pub fn checks(&self) -> Checks {
        Checks {
            now: self.now(),
            skew_secs: self.server.timestamp_skew_secs,
            xml: XmlLimits {
                max_bytes: self.server.max_body_bytes,
                ..XmlLimits::default()
            },
        }
    }

    /// The rules in force.
    #[must_use]
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.load_full()
    }

    /// Replace the rules (on reload); requests in flight finish with the old ones.
    pub fn set_rules(&self, rules: Arc<RuleSet>) {
        self.rules.store(rules);
        self.rules_generation.send_modify(|g| *g += 1);
    }

    /// A receiver that changes each time the rules are replaced (its value counts the
    /// replacements).
    #[must_use]
    pub fn watch_rules(&self) -> tokio::sync::watch::Receiver<u64> {
        self.rules_generation.subscribe()
    }

    /// Whether the service can answer: ready, degraded (answering, with Redis down or the
    /// message log failing to write), or not ready (the shared dedup store of CGI unreachable).
    pub async fn readiness(&self) -> Readiness {
        let mut problems = Vec::new();
        match &self.backends.redis {
            Some(redis) => problems.extend(redis.problem()),
            None => {
                if let Some(shared) = &self.backends.shared_dedup
                    && let Err(e) = shared.sweep(DEDUP_WINDOW).await
                {
                    return Readiness::NotReady(format!("dedup store unreachable: {e}"));
                }
            }
        }
        if let Some(log) = &self.backends.message_log {
            problems.extend(log.problem());
        }
        Readiness::from_problems(problems)
    }

    fn deadline(&self) -> Duration {
        Duration::from_millis(self.server.reply_deadline_ms)
    }

    fn placeholder(&self, rule_placeholder: Option<String>) -> String {
        rule_placeholder.unwrap_or_else(|| self.server.placeholder.clone())
    }

    /// Answer a decoded push, once per dedup key: retries wait for or reuse the first answer,
    /// and slow work follows its rule's `on_slow` policy.
    pub async fn answer(self: &Arc<Self>, push: &DecodedPush) -> (Arc<Handled>, Source) {
        let (handled, source, seconds) = match self.answer_in_process(push) {
            // Answered without waiting, in well under the histogram's first bucket (1 ms):
            // recorded as 0 s rather than paying two clock reads on every push.
            Ok((handled, source)) => (handled, source, 0.0),
            // Boxed: waiting, the shared store and actions make a large future, which the
            // common path (answered above, without awaiting) should not carry or copy.
            Err(claimed) => {
                let started = Instant::now();
                let (handled, source) = Box::pin(self.answer_claimed(push, claimed, started)).await;
                (handled, source, started.elapsed().as_secs_f64())
            }
        };
        self.metrics.handled(source, seconds);
        (handled, source)
    }

    /// The answer when nothing has to be awaited: cached, or a static reply routed at once for
    /// a push with no shared dedup store to ask and no parked results to add. Otherwise what
    /// the claim found, for [`App::answer_claimed`].
    fn answer_in_process(
        self: &Arc<Self>,
        push: &DecodedPush,
    ) -> Result<(Arc<Handled>, Source), Claimed> {
        let inbound = &push.inbound;
        // The key's text is built only when a slower path needs it.
        let pending = match self
            .dedup
            .claim_pieces(|piece| inbound.dedup_key_pieces(piece))
        {
            Claim::Cached(handled) => return Ok((handled, Source::Cached)),
            Claim::InFlight(waiter) => {
                let key = inbound.dedup_key();
                return Err(Claimed::InFlight { key, waiter });
            }
            Claim::First(pending) => pending,
        };
        if self.backends.shared_dedup.is_some()
            || (user_initiated(inbound)
                && self
                    .backends
                    .delivery
                    .may_have_parked(&inbound.from_user_name))
        {
            let key = inbound.dedup_key();
            return Err(Claimed::First { key, pending });
        }
        match self.route(inbound, push.received_at) {
            Routed::Now(handled) => {
                let handled = Arc::new(handled);
                pending.complete_immediately(Arc::clone(&handled));
                Ok((handled, Source::Fresh))
            }
            later @ Routed::Later { .. } => Err(Claimed::Routed {
                key: inbound.dedup_key(),
                pending,
                routed: Box::new(later),
            }),
        }
    }

    /// The answer when something must be awaited (see [`App::answer_in_process`]).
    async fn answer_claimed(
        self: &Arc<Self>,
        push: &DecodedPush,
        claimed: Claimed,
        started: Instant,
    ) -> (Arc<Handled>, Source) {
        match claimed {
            Claimed::InFlight { key, waiter } => {
                let work = self.work_for(&key);
                match work {
                    Some(work) => {
                        let mut attempt = work.attempts.fetch_add(1, Ordering::AcqRel) + 1;
                        if work.shared
                            && let Some(record) = self.count_attempt(&key).await
                        {
                            // Other instances saw deliveries of this push too.
                            attempt = attempt.max(record.attempts);
                        }
                        self.await_work(waiter, &work, attempt, started, Source::Coalesced)
                            .await
                    }
                    // Immediate work finishing right now: its answer is on the way.
                    None => match waiter.wait().await {
                        Some(handled) => (handled, Source::Coalesced),
                        None => (Arc::new(Handled::default()), Source::Coalesced),
                    },
                }
            }
            Claimed::First { key, pending } => {
                if let Some(shared) = self.backends.shared_dedup.clone() {
                    let shared_key = self.shared_key(&key);
                    match shared
                        .claim(&shared_key, &self.holder, SHARED_LEASE, DEDUP_WINDOW)
                        .await
                    {
                        Ok(DedupClaim::Done(answer)) => {
                            let handled = Arc::new(handled_from_json(&answer).unwrap_or_default());
                            pending.complete(Arc::clone(&handled));
                            return (handled, Source::Cached);
                        }
                        Ok(DedupClaim::InFlight) => {
                            // Another process handles it.
                            drop(pending);
                            return Box::pin(self.attend_elsewhere(push, key, &shared, started))
                                .await;
                        }
                        Ok(DedupClaim::First) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "shared dedup unavailable; handling in this process")
                        }
                    }
                }
                self.start(push, key, pending, started).await
            }
            Claimed::Routed {
                key,
                pending,
                routed,
            } => {
                self.run_routed(push, key, pending, *routed, Vec::new(), started)
                    .await
            }
        }
    }

    /// A delivery of a push whose work another process holds: counts the attempt, waits for
    /// the answer within the deadline, handles the push itself when the holder's claim runs
    /// out (it died), and otherwise applies the rule's slow policy in the shared work store.
    async fn attend_elsewhere(
        self: &Arc<Self>,
        push: &DecodedPush,
        key: String,
        shared: &Arc<dyn SharedDedup>,
        started: Instant,
    ) -> (Arc<Handled>, Source) {
        let shared_key = self.shared_key(&key);
        let record = self.count_attempt(&key).await;
        let deadline = started + self.deadline();
        loop {
            let budget = deadline.saturating_duration_since(Instant::now());
            match shared.wait(&shared_key, budget).await {
                Ok(Some(answer)) => {
                    return (
                        Arc::new(handled_from_json(&answer).unwrap_or_default()),
                        Source::Coalesced,
                    );
                }
                Ok(None) if Instant::now() < deadline => {}
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "shared dedup: cannot wait for another instance's answer");
                    break;
                }
            }
            // The claim is gone before the deadline: its holder stopped. Handle the push here.
            match shared
                .claim(&shared_key, &self.holder, SHARED_LEASE, DEDUP_WINDOW)
                .await
            {
                Ok(DedupClaim::First) => {
                    tracing::info!(
                        msg_id = push.inbound.msg_id(),
                        "the instance handling this push stopped; handling it here"
                    );
                    return match self.dedup.claim(&key) {
                        Claim::First(pending) => self.start(push, key, pending, started).await,
                        Claim::Cached(handled) => (handled, Source::Cached),
                        Claim::InFlight(waiter) => {
                            (waiter.wait().await.unwrap_or_default(), Source::Coalesced)
                        }
                    };
                }
                Ok(DedupClaim::Done(answer)) => {
                    return (
                        Arc::new(handled_from_json(&answer).unwrap_or_default()),
                        Source::Coalesced,
                    );
                }
                Ok(DedupClaim::InFlight) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "shared dedup unavailable");
                    break;
                }
            }
        }
        self.elsewhere_deadline(&key, shared, record, started).await
    }

    /// The deadline passed on a delivery of work another process holds: the policy of its
    /// rule, as recorded with the work, decides this answer; a handoff is recorded so the
    /// holder delivers the result out of band.
    async fn elsewhere_deadline(
        &self,
        key: &str,
        shared: &Arc<dyn SharedDedup>,
        record: Option<WorkRecord>,
        started: Instant,
    ) -> (Arc<Handled>, Source) {
        let lapsed = (Arc::new(Handled::default()), Source::Lapsed);
        let Some(payload) = record
            .as_ref()
            .and_then(|r| WorkPayload::from_json(&r.payload))
        else {
            // Nothing recorded (immediate work, or no work store): the holder answers retries.
            return lapsed;
        };
        let attempt = record.map_or(1, |r| r.attempts);
        let rule: Arc<str> = Arc::from(payload.rule.as_str());
        let policy = deadline_policy(payload.on_slow, attempt);
        tracing::info!(rule = %rule, attempt, policy, "reply deadline passed; the work runs on another instance");
        if policy == "retry" {
            return lapse(started, rule).await;
        }
        let Some((store, _)) = self.shared_stores() else {
            return lapsed;
        };
        match store.hand_off(key, fallback_for(payload.on_slow)).await {
            Ok(HandOff::Handed(Handoff::Kf)) => {
                (Arc::new(Handled::success(Some(rule))), Source::Kf)
            }
            Ok(HandOff::Handed(Handoff::Park)) => (
                Arc::new(Handled {
                    rule: Some(rule),
                    reply: Some(Reply::text(payload.placeholder)),
                }),
                Source::Parked,
            ),
            // Finished meanwhile: its answer is on the way to the dedup store.
            Ok(HandOff::Finished | HandOff::Missing) => {
                match shared.wait(&self.shared_key(key), FINISHED_GRACE).await {
                    Ok(Some(answer)) => (
                        Arc::new(handled_from_json(&answer).unwrap_or_default()),
                        Source::Coalesced,
                    ),
                    _ => lapsed,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot hand off work held by another instance");
                lapsed
            }
        }
    }

    /// Looks for slow work whose instance died, every second, and takes it over; `None` when
    /// no work is shared (no Redis).
    #[must_use]
    pub fn spawn_takeovers(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        self.backends.shared_work.as_ref()?;
        self.backends.shared_dedup.as_ref()?;
        let app = Arc::clone(self);
        Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(SCAN_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                app.take_over_expired().await;
            }
        }))
    }

    /// One look for slow work whose holder's lease ran out.
    pub async fn take_over_expired(self: &Arc<Self>) {
        let Some((store, _)) = self.shared_stores() else {
            return;
        };
        let keys = match store.expired(SCAN_BATCH).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::debug!(error = %e, "cannot look for slow work to take over");
                return;
            }
        };
        for key in keys {
            self.take_over(&key).await;
        }
    }

    /// Takes over the slow work on `key` and redoes it; its result goes to the follower the
    /// way the work promised (客服消息 or parking), or as the answer to a retry still waiting.
    async fn take_over(self: &Arc<Self>, key: &str) {
        let Some((store, shared)) = self.shared_stores() else {
            return;
        };
        // A delivery in this process handles it already.
        let Claim::First(pending) = self.dedup.claim(key) else {
            return;
        };
        let shared_key = self.shared_key(key);
        match shared
            .claim(&shared_key, &self.holder, WORK_LEASE, DEDUP_WINDOW)
            .await
        {
            Ok(DedupClaim::First) => {}
            // Its holder's dedup lease is live (renewal of the work lease failed): not dead.
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "shared dedup unavailable; slow work not taken over");
                return;
            }
        }
        let taken = match store.take_over(key, &self.holder, WORK_LEASE).await {
            Ok(taken) => taken,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take over slow work");
                None
            }
        };
        let Some((record, payload, inbound)) = taken.and_then(|record| {
            let payload = WorkPayload::from_json(&record.payload)?;
            let inbound = payload.inbound()?;
            Some((record, payload, inbound))
        }) else {
            if let Err(e) = shared.abandon(&shared_key, &self.holder).await {
                tracing::warn!(error = %e, "shared dedup: claim not released");
            }
            return;
        };
        tracing::warn!(
            rule = %payload.rule,
            msg_id = inbound.msg_id(),
            attempts = record.attempts,
            "taking over slow work whose instance stopped renewing its lease"
        );
        metrics::counter!(crate::metrics::WORK_TAKEN_OVER).increment(1);
        let fallback = record.handoff.unwrap_or_else(|| payload.fallback());
        match self.route(&inbound, payload.received_at) {
            Routed::Later {
                rule,
                call,
                on_slow,
                placeholder,
                on_error,
            } => {
                let job = Job {
                    rule,
                    call,
                    on_slow,
                    placeholder: self.placeholder(placeholder),
                    on_error,
                    openid: inbound.from_user_name.clone(),
                    msg_id: inbound.msg_id(),
                    attempts: record.attempts,
                    shared: true,
                    fallback: Some(fallback),
                };
                drop(self.spawn_work(key.to_owned(), pending, job));
            }
            // The rules changed since: the answer is ready now, and goes as the work promised.
            Routed::Now(handled) => {
                let work = Work {
                    key: key.to_owned(),
                    rule: handled
                        .rule
                        .clone()
                        .unwrap_or_else(|| Arc::from(payload.rule.as_str())),
                    on_slow: payload.on_slow,
                    placeholder: payload.placeholder,
                    openid: inbound.from_user_name.clone(),
                    attempts: AtomicU32::new(record.attempts),
                    partial: None,
                    delivered: AtomicBool::new(false),
                    shared: true,
                    fallback: Some(fallback),
                    state: Mutex::new(WorkState::default()),
                };
                self.complete_work(key, &work, handled, pending).await;
            }
        }
    }

    fn work_for(&self, key: &str) -> Option<Arc<Work>> {
        self.work
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// The first delivery: take what is parked for the follower, route, then answer.
    async fn start(
        self: &Arc<Self>,
        push: &DecodedPush,
        key: String,
        pending: crate::dedup::Pending<Arc<Handled>>,
        started: Instant,
    ) -> (Arc<Handled>, Source) {
        let inbound = &push.inbound;
        let parked = if user_initiated(inbound) {
            self.backends
                .delivery
                .take_parked(&inbound.from_user_name)
                .await
        } else {
            Vec::new()
        };
        let routed = self.route(inbound, push.received_at);
        self.run_routed(push, key, pending, routed, parked, started)
            .await
    }

    /// Answer at once, or run the action under the deadline; `parked` results ride along.
    async fn run_routed(
        self: &Arc<Self>,
        push: &DecodedPush,
        key: String,
        pending: crate::dedup::Pending<Arc<Handled>>,
        routed: Routed,
        parked: Vec<(String, Reply)>,
        started: Instant,
    ) -> (Arc<Handled>, Source) {
        let inbound = &push.inbound;
        match routed {
            Routed::Now(handled) => {
                let handled = self.with_parked(parked, handled, inbound).await;
                let handled = Arc::new(handled);
                self.finish_shared(&key, &handled).await;
                pending.complete(Arc::clone(&handled));
                (handled, Source::Fresh)
            }
            Routed::Later {
                rule,
                call,
                on_slow,
                placeholder,
                on_error,
            } => {
                let placeholder = self.placeholder(placeholder);
                let recorded = self
                    .begin_shared_work(&key, push, &rule, on_slow, &placeholder)
                    .await;
                let job = Job {
                    rule,
                    call,
                    on_slow,
                    placeholder,
                    on_error,
                    openid: inbound.from_user_name.clone(),
                    msg_id: inbound.msg_id(),
                    attempts: recorded.as_ref().map_or(1, |r| r.attempts),
                    shared: recorded.is_some(),
                    fallback: None,
                };
                let (work, waiter) = self.spawn_work(key, pending, job);
                let attempt = work.attempts.load(Ordering::Acquire);
                let (handled, source) = self
                    .await_work(waiter, &work, attempt, started, Source::Fresh)
                    .await;
                // Parked results ride along with the first answer that carries anything.
                if parked.is_empty() {
                    (handled, source)
                } else if source == Source::Lapsed {
                    // The platform hung up on this attempt: what was parked waits again.
                    for (rule, reply) in parked {
                        if let Err(e) = self
                            .backends
                            .delivery
                            .park(&inbound.from_user_name, &rule, &reply)
                            .await
                        {
                            tracing::error!(rule, error = %e, "a parked result could not be parked again");
                        }
                    }
                    (handled, source)
                } else {
                    let combined = self.with_parked(parked, (*handled).clone(), inbound).await;
                    (Arc::new(combined), source)
                }
            }
        }
    }

    /// The work is done: hand the result to whoever must deliver it, record it for retries.
    async fn complete_work(
        &self,
        key: &str,
        work: &Work,
        handled: Handled,
        pending: crate::dedup::Pending<Arc<Handled>>,
    ) {
        let Some(shared_handoff) = self.finish_shared_work(work).await else {
            // Another instance took the work over and delivers its own result.
            pending.complete(Arc::new(Handled::success(handled.rule.clone())));
            self.forget_work(key);
            return;
        };
        let handoff = {
            let mut state = work.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.done = Some(Arc::new(handled.clone()));
            state.handoff.or(shared_handoff)
        };
        let recorded = match (handoff, &handled.reply) {
            (Some(handoff), Some(reply)) if work.claim_delivery() => {
                let delivery = &self.backends.delivery;
                let result = match handoff {
                    Handoff::Park => delivery.park(&work.openid, &work.rule, reply).await,
                    Handoff::Kf => delivery.send_or_park(&work.openid, &work.rule, reply).await,
                };
                if let Err(e) = result {
                    tracing::error!(rule = %work.rule, error = %e, "late result could not be delivered");
                }
                // Retries of this push must not repeat what went out of band.
                Arc::new(Handled::success(handled.rule.clone()))
            }
            _ => Arc::new(handled),
        };
        self.finish_shared(key, &recorded).await;
        pending.complete(recorded);
        self.forget_work(key);
    }

    fn forget_work(&self, key: &str) {
        self.work
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Ends `work` in the shared work store: `Some(handoff)` to deliver by (`None`: the
    /// passive answer), or `None` when another instance took it over. Work not recorded there
    /// follows its own handoff.
    async fn finish_shared_work(&self, work: &Work) -> Option<Option<Handoff>> {
        if !work.shared {
            return Some(work.fallback);
        }
        let Some((store, _)) = self.shared_stores() else {
            return Some(work.fallback);
        };
        match store
            .finish(&work.key, &self.holder, work.fallback, DEDUP_WINDOW)
            .await
        {
            Ok(Finish::Held(handoff)) => Some(handoff),
            Ok(Finish::Lost) => {
                tracing::warn!(
                    rule = %work.rule,
                    openid = %work.openid,
                    "slow work finished after another instance took it over; that instance delivers the result"
                );
                None
            }
            Ok(Finish::Missing) => {
                tracing::warn!(
                    rule = %work.rule,
                    openid = %work.openid,
                    "the shared record of this slow work is gone (Redis restarted empty or flushed?); delivering from here"
                );
                Some(work.fallback)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot finish slow work in the shared store; delivering from here");
                Some(work.fallback)
            }
        }
    }

    /// The shared work and dedup stores, when both are configured and Redis answers.
    fn shared_stores(&self) -> Option<SharedStores<'_>> {
        if self
            .backends
            .redis
            .as_ref()
            .is_some_and(|redis| !redis.is_up())
        {
            return None;
        }
        Some((
            self.backends.shared_work.as_ref()?,
            self.backends.shared_dedup.as_ref()?,
        ))
    }

    /// Records slow work on `push` in the shared work store (taking over a running record of
    /// it, keeping its attempts) and holds the push's dedup entry for as long; `None` when
    /// there is no such store or it fails (the work then stays this process's alone).
    async fn begin_shared_work(
        &self,
        key: &str,
        push: &DecodedPush,
        rule: &str,
        on_slow: OnSlow,
        placeholder: &str,
    ) -> Option<WorkRecord> {
        let (store, dedup) = self.shared_stores()?;
        let payload = WorkPayload::new(&push.inbound, push.received_at, rule, on_slow, placeholder);
        match store
            .begin(key, &payload.to_json(), &self.holder, WORK_LEASE)
            .await
        {
            Ok(record) => {
                if let Err(e) = dedup
                    .claim(
                        &self.shared_key(key),
                        &self.holder,
                        WORK_LEASE,
                        DEDUP_WINDOW,
                    )
                    .await
                {
                    tracing::warn!(error = %e, "cannot shorten the dedup lease of slow work");
                }
                Some(record)
            }
            Err(e) => {
                tracing::warn!(error = %e, "slow work not shared: another instance cannot take it over");
                None
            }
        }
    }

    /// Counts a delivery of shared work; the record as it stands.
    async fn count_attempt(&self, key: &str) -> Option<WorkRecord> {
        let (store, _) = self.shared_stores()?;
        store
            .attempt(key)
            .await
            .map_err(|e| tracing::warn!(error = %e, "cannot count a delivery of shared work"))
            .ok()
            .flatten()
    }

    /// The leases a holder of shared `work` renews while it runs.
    fn lease_for(&self, work: &Work) -> Option<Lease> {
        if !work.shared {
            return None;
        }
        let (store, dedup) = self.shared_stores()?;
        Some(Lease {
            work: Arc::clone(store),
            dedup: Arc::clone(dedup),
            key: work.key.clone(),
            dedup_key: self.shared_key(&work.key),
            holder: self.holder.clone(),
        })
    }

    /// Starts `job`'s action in the background under `key`; a delivery waits on the returned
    /// waiter, retries find the work by key.
    fn spawn_work(
        self: &Arc<Self>,
        key: String,
        pending: crate::dedup::Pending<Arc<Handled>>,
        job: Job,
    ) -> (Arc<Work>, Waiter<Arc<Handled>>) {
        let Job {
            rule,
            call,
            on_slow,
            placeholder,
            on_error,
            openid,
            msg_id,
            attempts,
            shared,
            fallback,
        } = job;
        let work = Arc::new(Work {
            key: key.clone(),
            rule: Arc::clone(&rule),
            on_slow,
            placeholder,
            openid,
            attempts: AtomicU32::new(attempts),
            partial: call.partial_output(),
            delivered: AtomicBool::new(false),
            shared,
            fallback,
            state: Mutex::new(WorkState::default()),
        });
        self.work
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Arc::clone(&work));
        let waiter = pending.waiter();
        let app = Arc::clone(self);
        let task_work = Arc::clone(&work);
        tokio::spawn(async move {
            let services = app.backends.services.clone();
            let run = AssertUnwindSafe(call.run(&services)).catch_unwind();
            let result = match app.lease_for(&task_work) {
                Some(lease) => {
                    tokio::pin!(run);
                    tokio::select! {
                        result = &mut run => result,
                        never = lease.keep() => match never {},
                    }
                }
                None => run.await,
            };
            let reply = match result {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => {
                    tracing::error!(rule = %rule, msg_id, error = %e, "action failed");
                    metrics::counter!(crate::metrics::HANDLER_FAILURES, "kind" => "action")
                        .increment(1);
                    on_error.map(Reply::text)
                }
                Err(_) => {
                    tracing::error!(rule = %rule, msg_id, "action panicked; answering success");
                    metrics::counter!(crate::metrics::HANDLER_FAILURES, "kind" => "panic")
                        .increment(1);
                    None
                }
            };
            let handled = app
                .prepare(Arc::clone(&rule), reply, &task_work.openid)
                .await;
            app.complete_work(&key, &task_work, handled, pending).await;
        });
        (work, waiter)
    }

    /// The key of a push in the shared dedup store, which every account of every process
    /// uses: the push's own key within the account's AppID.
    fn shared_key(&self, key: &str) -> String {
        format!("{}|{key}", self.account.appid)
    }

    async fn finish_shared(&self, key: &str, handled: &Handled) {
        if let Some(shared) = &self.backends.shared_dedup
            && let Err(e) = shared
                .complete(
                    &self.shared_key(key),
                    &self.holder,
                    &handled_to_json(handled),
                )
                .await
        {
            tracing::warn!(error = %e, "shared dedup: answer not recorded");
        }
    }

    /// One delivery waiting on the work: the result if it comes within the deadline, else the
    /// rule's slow policy.
    async fn await_work(
        &self,
        waiter: Waiter<Arc<Handled>>,
        work: &Work,
        attempt: u32,
        started: Instant,
        source: Source,
    ) -> (Arc<Handled>, Source) {
        let deadline = started + self.deadline();
        let wait = waiter.wait();
        tokio::pin!(wait);
        tokio::select! {
            result = &mut wait => {
                return match result {
                    Some(handled) if work.claim_delivery() => (handled, source),
                    Some(handled) => (Arc::new(Handled::success(handled.rule.clone())), source),
                    None => (Arc::new(Handled::default()), source),
                };
            }
            () = sleep_until(deadline) => {}
        }
        let policy = deadline_policy(work.on_slow, attempt);
        tracing::info!(rule = %work.rule, attempt, policy, "reply deadline passed");
        if policy == "retry" {
            // The retry waits on the same work.
            return lapse(started, Arc::clone(&work.rule)).await;
        }
        if policy == "retry_last"
            && let Some(shown) = work.partial.as_ref().and_then(|p| p.take_prefix())
        {
            return self.answer_prefix(work, shown);
        }
        let handoff = fallback_for(work.on_slow);
        let ready = {
            let mut state = work.state.lock().unwrap_or_else(PoisonError::into_inner);
            match &state.done {
                Some(done) => Some(Arc::clone(done)),
                None => {
                    state.handoff = Some(handoff);
                    None
                }
            }
        };
        if let Some(done) = ready
            && work.claim_delivery()
        {
            return (done, source);
        }
        if work.shared
            && let Some((store, _)) = self.shared_stores()
            && let Err(e) = store.hand_off(&work.key, handoff).await
        {
            tracing::warn!(error = %e, "handoff of slow work not shared with other instances");
        }
        let (reply, source) = match handoff {
            Handoff::Kf => (None, Source::Kf),
            Handoff::Park => (Some(Reply::text(work.placeholder.clone())), Source::Parked),
        };
        (
            Arc::new(Handled {
                rule: Some(Arc::clone(&work.rule)),
                reply,
            }),
            source,
        )
    }

    /// The last attempt answers the whole sentences streamed so far; the action keeps the rest
    /// for the follower's continue keyword, and anything it still returns (its `on_error`
    /// text) is parked. Counted as [`Source::Parked`]: the rest waits for the next message.
    fn answer_prefix(&self, work: &Work, shown: String) -> (Arc<Handled>, Source) {
        work.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .handoff = Some(Handoff::Park);
        metrics::counter!(crate::metrics::DEADLINE, "policy" => "retry_last", "outcome" => "prefix")
            .increment(1);
        (
            Arc::new(Handled {
                rule: Some(Arc::clone(&work.rule)),
                reply: Some(Reply::text(shown)),
            }),
            Source::Parked,
        )
    }

    /// Route `inbound`, received at `now` (Unix seconds), through the rules. A failing or
    /// panicking rule answers `success`; the failure is logged with the message id.
    fn route(&self, inbound: &Inbound, now: i64) -> Routed {
        let rules = self.rules.load();
        let outcome = catch_unwind(AssertUnwindSafe(|| rules.respond(inbound, now)));
        match outcome {
            Ok(Ok(Outcome::NoMatch)) => Routed::Now(Handled::default()),
            Ok(Ok(Outcome::Matched { rule, reply, .. })) => {
                Routed::Now(self.prepare_now(rule, reply, &inbound.from_user_name))
            }
            Ok(Ok(Outcome::Action {
                rule,
                call,
                on_slow,
                placeholder,
                on_error,
            })) => Routed::Later {
                rule,
                call,
                on_slow,
                placeholder,
                on_error,
            },
            Ok(Err(e)) => {
                tracing::error!(msg_id = inbound.msg_id(), error = %e, "rule failed; answering success");
                metrics::counter!(crate::metrics::HANDLER_FAILURES, "kind" => "render")
                    .increment(1);
                Routed::Now(Handled::default())
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(msg_id = inbound.msg_id(), panic = %what, "handler panicked; answering success");
                metrics::counter!(crate::metrics::HANDLER_FAILURES, "kind" => "panic").increment(1);
                Routed::Now(Handled::default())
            }
        }
    }

    /// Validate a static reply; text over the passive limit is split and the rest delivered
    /// later (in the background).
    fn prepare_now(&self, rule: Arc<str>, reply: Option<Reply>, openid: &str) -> Handled {
        let (handled, overflow) = validate(rule, reply);
        if let Some(rest) = overflow {
            let delivery = self.backends.delivery.clone();
            let openid = openid.to_owned();
            let rule = handled.rule.clone().unwrap_or_else(|| Arc::from("-"));
            tokio::spawn(async move {
                let _ = delivery
                    .send_or_park(&openid, &rule, &Reply::text(rest))
                    .await;
            });
        }
        handled
    }

    async fn prepare(&self, rule: Arc<str>, reply: Option<Reply>, openid: &str) -> Handled {
        let (handled, overflow) = validate(rule, reply);
        if let Some(rest) = overflow {
            let rule = handled.rule.clone().unwrap_or_else(|| Arc::from("-"));
            let _ = self
                .backends
                .delivery
                .send_or_park(openid, &rule, &Reply::text(rest))
                .await;
        }
        handled
    }

    /// Put parked results in front of this answer: texts are joined when they fit; otherwise
    /// the parked result is the answer and this one follows by 客服消息 (or is parked again).
    async fn with_parked(
        &self,
        parked: Vec<(String, Reply)>,
        handled: Handled,
        inbound: &Inbound,
    ) -> Handled {
        let mut parked = parked.into_iter();
        let Some((parked_rule, first)) = parked.next() else {
            return handled;
        };
        let openid = &inbound.from_user_name;
        for (rule, rest) in parked {
            let _ = self
                .backends
                .delivery
                .send_or_park(openid, &rule, &rest)
                .await;
        }
        match (&first, &handled.reply) {
            (Reply::Text { content: old }, Some(Reply::Text { content: new }))
                if old.len() + new.len() + 2 <= MAX_TEXT_REPLY_BYTES =>
            {
                Handled {
                    rule: handled.rule.clone(),
                    reply: Some(Reply::text(format!("{old}\n\n{new}"))),
                }
            }
            (_, None) => Handled {
                rule: Some(Arc::from(parked_rule.as_str())),
                reply: Some(first),
            },
            (_, Some(current)) => {
                let rule = handled.rule.clone().unwrap_or_else(|| Arc::from("-"));
                let _ = self
                    .backends
                    .delivery
                    .send_or_park(openid, &rule, current)
                    .await;
                Handled {
                    rule: Some(Arc::from(parked_rule.as_str())),
                    reply: Some(first),
                }
            }
        }
    }
}

/// What [`App::answer_in_process`] claimed but could not answer without awaiting.
enum Claimed {
    /// A retry while the first delivery is in flight.
    InFlight {
        key: String,
        waiter: Waiter<Arc<Handled>>,
    },
    /// The first delivery, to ask the shared store about or to take parked results for.
    First {
        key: String,
        pending: crate::dedup::Pending<Arc<Handled>>,
    },
    /// The first delivery, routed to an action (boxed: the common answers never carry it).
    Routed {
        key: String,
        pending: crate::dedup::Pending<Arc<Handled>>,
        routed: Box<Routed>,
    },
}

enum Routed {
    Now(Handled),
    Later {
        rule: Arc<str>,
        call: crate::actions::ActionCall,
        on_slow: OnSlow,
        placeholder: Option<String>,
        on_error: Option<String>,
    },
}

/// The slow policy a delivery applies when its deadline passes on the platform's `attempt`
/// (`retry`, `retry_last`, `kf` or `placeholder`), counted in `wxoa_deadline_total`.
fn deadline_policy(on_slow: OnSlow, attempt: u32) -> &'static str {
    let policy = match on_slow {
        OnSlow::Retry if attempt < PLATFORM_ATTEMPTS => "retry",
        OnSlow::Retry => "retry_last",
        OnSlow::Kf => "kf",
        OnSlow::Placeholder => "placeholder",
    };
    metrics::counter!(crate::metrics::DEADLINE, "policy" => policy, "outcome" => "deadline")
        .increment(1);
    policy
}

/// Lets a delivery lapse so the platform retries: answers only after the platform has hung up
/// on it.
async fn lapse(started: Instant, rule: Arc<str>) -> (Arc<Handled>, Source) {
    sleep_until(started + PLATFORM_TIMEOUT + Duration::from_millis(500)).await;
    (Arc::new(Handled::success(Some(rule))), Source::Lapsed)
}

/// Whether the follower acted (a message or a menu click/scan), so a parked result may ride
/// on the answer.
pub(crate) fn user_initiated(inbound: &Inbound) -> bool {
    match &inbound.kind {
        Kind::Message(_) => true,
        Kind::Event(_) => inbound.event_name().is_some_and(|e| {
            ["CLICK", "SCAN", "scancode_waitmsg", "subscribe"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(e))
        }),
    }
}

/// Validate a reply: invalid → `success` (logged); long text → split, the rest returned.
fn validate(rule: Arc<str>, reply: Option<Reply>) -> (Handled, Option<String>) {
    let Some(reply) = reply else {
        return (Handled::success(Some(rule)), None);
    };
    match reply.prepare() {
        Ok(prepared) => (
            Handled {
                rule: Some(rule),
                reply: Some(prepared.reply),
            },
            prepared.overflow,
        ),
        Err(e) => {
            tracing::error!(rule = %rule, error = %e, "invalid reply; answering success");
            metrics::counter!(crate::metrics::HANDLER_FAILURES, "kind" => "reply").increment(1);
            (Handled::success(Some(rule)), None)
        }
    }
}
