//! Slow work shared by instances: what a record holds so another instance can redo the work
//! (the push and its rule's deadline policy), the lease timings, and the heartbeat that keeps
//! a live holder's leases from running out.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wxoa_proto::message::Inbound;
use wxoa_proto::xml::{self, XmlLimits};
use wxoa_store::{SharedDedup, SharedWork, WorkHandoff};

use crate::rules::OnSlow;

/// How long a holder's leases (on the work and on the push's dedup entry) last unless renewed:
/// how soon another instance takes over the work of one that died.
pub const WORK_LEASE: Duration = Duration::from_secs(5);

/// How often a live holder renews its leases (three renewals fit in one lease, so one slow
/// store round trip does not lose the work).
pub const RENEW_EVERY: Duration = Duration::from_millis(1500);

/// How often each instance looks for work whose holder died.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);

/// How many expired records one look takes over at most.
pub const SCAN_BATCH: usize = 16;

/// What a work record carries: enough to route the push again and apply its rule's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkPayload {
    /// The push as plaintext XML (decrypted when it came encrypted).
    pub xml: String,
    /// When the first delivery was received (Unix seconds): the time rules see.
    pub received_at: i64,
    /// The rule whose action does the work.
    pub rule: String,
    /// The rule's deadline policy.
    pub on_slow: OnSlow,
    /// The placeholder a delivery answers when the result is parked.
    pub placeholder: String,
}

impl WorkPayload {
    /// The payload of `inbound`'s work under `rule`.
    #[must_use]
    pub fn new(
        inbound: &Inbound,
        received_at: i64,
        rule: &str,
        on_slow: OnSlow,
        placeholder: &str,
    ) -> Self {
        Self {
            xml: xml::to_document(inbound.root()),
            received_at,
            rule: rule.to_owned(),
            on_slow,
            placeholder: placeholder.to_owned(),
        }
    }

    /// As stored.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Read back; `None` (logged) for a record this build cannot read.
    #[must_use]
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text)
            .map_err(|e| tracing::error!(error = %e, "unreadable work record"))
            .ok()
    }

    /// The push again.
    #[must_use]
    pub fn inbound(&self) -> Option<Inbound> {
        Inbound::parse(self.xml.as_bytes(), XmlLimits::default())
            .map_err(|e| tracing::error!(error = %e, "the push in a work record does not parse"))
            .ok()
    }

    /// Who carries the result when no delivery is left to: 客服消息 under `kf`, parking
    /// otherwise.
    #[must_use]
    pub fn fallback(&self) -> WorkHandoff {
        fallback_for(self.on_slow)
    }
}

/// The handoff that carries a result of work under `on_slow` when no delivery will.
#[must_use]
pub fn fallback_for(on_slow: OnSlow) -> WorkHandoff {
    match on_slow {
        OnSlow::Kf => WorkHandoff::Kf,
        OnSlow::Retry | OnSlow::Placeholder => WorkHandoff::Park,
    }
}

/// The stores a holder renews its leases in, and under which names.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The work store.
    pub work: Arc<dyn SharedWork>,
    /// The dedup store (its entry for the push is held as long as the work).
    pub dedup: Arc<dyn SharedDedup>,
    /// The push's key in the work store.
    pub key: String,
    /// The push's key in the dedup store.
    pub dedup_key: String,
    /// This process's holder name.
    pub holder: String,
}

impl Lease {
    /// Renews both leases every [`RENEW_EVERY`]; never returns (drop it when the work is
    /// done). Once another instance has taken the work over it stops renewing.
    pub async fn keep(self) -> std::convert::Infallible {
        let mut every = tokio::time::interval(RENEW_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            match self.work.renew(&self.key, &self.holder, WORK_LEASE).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        key = %self.key,
                        "slow work was taken over by another instance (this one was too slow to renew its lease)"
                    );
                    return std::future::pending().await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot renew the lease on slow work"),
            }
            if let Err(e) = self
                .dedup
                .claim(
                    &self.dedup_key,
                    &self.holder,
                    WORK_LEASE,
                    crate::app::DEDUP_WINDOW,
                )
                .await
            {
                tracing::warn!(error = %e, "cannot renew the dedup lease of slow work");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_round_trips_with_its_push() {
        let body = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[慢 ]]]]><![CDATA[>]]></Content><MsgId>7</MsgId></xml>";
        let inbound = Inbound::parse(body.as_bytes(), XmlLimits::default()).unwrap();
        let payload = WorkPayload::new(&inbound, 1_700_000_001, "slow", OnSlow::Kf, "稍等");
        let back = WorkPayload::from_json(&payload.to_json()).unwrap();
        assert_eq!(back, payload);
        let again = back.inbound().unwrap();
        assert_eq!(again, inbound);
        assert_eq!(again.dedup_key(), inbound.dedup_key());
        assert_eq!(back.fallback(), WorkHandoff::Kf);
        assert_eq!(fallback_for(OnSlow::Retry), WorkHandoff::Park);
        assert!(WorkPayload::from_json("{").is_none());
    }
}
