//! The application state shared by every request, and the handling of one decoded push:
//! dedup/coalescing, routing through the rules, validating the reply.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use wxoa_proto::message::Inbound;
use wxoa_proto::reply::Reply;
use wxoa_proto::xml::XmlLimits;

use crate::clock::Clock;
use crate::config::{AccountConfig, Config, ServerConfig};
use crate::dedup::{Claim, Dedup};
use crate::push::{Checks, DecodedPush};
use crate::rules::{Outcome, RuleSet};

/// How long answers are kept for the platform's retries.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(60);

/// The result of handling one push: which rule answered, and with what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handled {
    /// The rule that matched, if any.
    pub rule: Option<Arc<str>>,
    /// The passive reply; `None` answers `success`.
    pub reply: Option<Reply>,
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
}

impl Source {
    /// `fresh`, `coalesced` or `cached`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Coalesced => "coalesced",
            Self::Cached => "cached",
        }
    }
}

/// Everything a request needs: the account, limits, the current rules, the dedup table, the clock.
#[derive(Debug)]
pub struct App {
    account: AccountConfig,
    server: ServerConfig,
    rules: ArcSwap<RuleSet>,
    dedup: Dedup<Arc<Handled>>,
    clock: Arc<dyn Clock>,
    rules_generation: tokio::sync::watch::Sender<u64>,
}

impl App {
    /// The state for `config`, reading time from `clock`.
    #[must_use]
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            account: config.account.clone(),
            server: config.server.clone(),
            rules: ArcSwap::new(Arc::clone(&config.rules)),
            dedup: Dedup::new(DEDUP_WINDOW),
            clock,
            rules_generation: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The account settings.
    #[must_use]
    pub fn account(&self) -> &AccountConfig {
        &self.account
    }

    /// The server settings.
    #[must_use]
    pub fn server(&self) -> &ServerConfig {
        &self.server
    }

    /// Now, in Unix seconds, from the injected clock.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.clock.now_unix()
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

    /// Whether the service can answer: rules are loaded and the stores it uses are reachable.
    ///
    /// # Errors
    /// Why it is not ready.
    pub async fn readiness(&self) -> Result<(), String> {
        Ok(())
    }

    /// Answer a decoded push, once per dedup key: retries wait for or reuse the first answer.
    pub async fn answer(&self, push: &DecodedPush) -> (Arc<Handled>, Source) {
        let started = std::time::Instant::now();
        let (handled, source) = self.answer_once(push).await;
        metrics::counter!(crate::metrics::DEDUP, "source" => source.as_str()).increment(1);
        metrics::histogram!(crate::metrics::HANDLER_SECONDS, "source" => source.as_str())
            .record(started.elapsed().as_secs_f64());
        (handled, source)
    }

    async fn answer_once(&self, push: &DecodedPush) -> (Arc<Handled>, Source) {
        match self.dedup.claim(&push.inbound.dedup_key()) {
            Claim::Cached(handled) => (handled, Source::Cached),
            Claim::InFlight(waiter) => match waiter.wait().await {
                Some(handled) => (handled, Source::Coalesced),
                None => (Arc::new(Handled::default()), Source::Coalesced),
            },
            Claim::First(pending) => {
                let handled = Arc::new(self.handle(&push.inbound));
                pending.complete(Arc::clone(&handled));
                (handled, Source::Fresh)
            }
        }
    }

    /// Route `inbound` through the rules. A failing or panicking handler answers `success`;
    /// the failure is logged with the message id.
    fn handle(&self, inbound: &Inbound) -> Handled {
        let rules = self.rules.load();
        let now = self.now();
        let outcome = catch_unwind(AssertUnwindSafe(|| rules.respond(inbound, now)));
        let msg_id = inbound.msg_id();
        match outcome {
            Ok(Ok(Outcome::NoMatch)) => Handled::default(),
            Ok(Ok(Outcome::Matched { rule, reply, .. })) => {
                let rule: Arc<str> = Arc::from(rule.as_ref());
                let reply = reply.and_then(|reply| match reply.prepare() {
                    Ok(prepared) => {
                        if let Some(rest) = prepared.overflow {
                            tracing::warn!(
                                rule = %rule,
                                msg_id,
                                rest_bytes = rest.len(),
                                "reply text longer than 2047 bytes: sent the first part; the rest needs 客服消息 delivery"
                            );
                        }
                        Some(prepared.reply)
                    }
                    Err(e) => {
                        tracing::error!(rule = %rule, msg_id, error = %e, "invalid reply; answering success");
                        metrics::counter!(crate::metrics::HANDLER_FAILURES, "kind" => "reply").increment(1);
                        None
                    }
                });
                Handled {
                    rule: Some(rule),
                    reply,
                }
            }
            Ok(Err(e)) => {
                tracing::error!(msg_id, error = %e, "rule failed; answering success");
                metrics::counter!(crate::metrics::HANDLER_FAILURES, "kind" => "render")
                    .increment(1);
                Handled::default()
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(msg_id, panic = %what, "handler panicked; answering success");
                metrics::counter!(crate::metrics::HANDLER_FAILURES, "kind" => "panic").increment(1);
                Handled::default()
            }
        }
    }
}
