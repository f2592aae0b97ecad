//! The token provider: one access_token (and jsapi_ticket) per account, shared through the `TokenStore`.
//!
//! Algorithm for a caller that needs a token (see [`Inner::token`]):
//! 1. the in-process cache, if the token has more than the refresh margin left;
//! 2. otherwise queue on the in-process gate (single-flight: one fetch per process at a time);
//!    a caller that queued while another fetch finished takes that result (or its error);
//! 3. read the store: a fresh token put there by another process is used as is;
//! 4. else `try_lock` the key; the winner re-reads the store (double-check), fetches, `put`s,
//!    counts the fetch for the Beijing day, and unlocks; a loser polls the store (tokio time)
//!    and retries the lock until a fresh token appears, the lock frees (or dies after its
//!    ttl), or twice the ttl has passed.
//!
//! After a failed fetch the provider backs off ([`Slot::backoff`]): no fetch from the platform
//! until the wait has passed (1 s doubling to 5 min by default), so an API that times out is
//! asked at most every few minutes, never at the rate of the callers; the store is still read
//! meanwhile. If a refresh inside the margin fails, the old token (still valid) is used and a warning
//! logged. On 40001 / 40014 / 42001 the failed token is expired only if it is still the stored
//! one (compare-and-expire), then the provider runs again refusing that value; with
//! stable_token a refetch that hands back the same token escalates once to `force_refresh`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Deserialize;

use crate::client::{Client, Inner, Raw, Req, json_value};
use crate::clock::beijing_date;
use crate::error::ApiError;
use crate::token_store::CachedToken;

/// The platform's daily quota of access_token fetches (secondary sources; PROTOCOL §8.1).
pub const DAILY_FETCH_LIMIT: u64 = 2000;
/// Fetches in one Beijing day from which each further fetch logs a warning (80 % of the limit).
pub const FETCH_WARN_THRESHOLD: u64 = DAILY_FETCH_LIMIT * 8 / 10;
/// A token with at least this many seconds left may stand in when a refresh fails.
const FALLBACK_MIN_SECS: i64 = 30;
/// Token (and ticket) fetches from the platform, by store `key`.
pub(crate) const TOKEN_FETCHES: &str = "wxoa_token_fetches_total";
/// Today's fetch count (Beijing date) as the shared store counts it, by `key`.
pub(crate) const TOKEN_FETCHES_TODAY: &str = "wxoa_token_fetches_today";

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    AccessToken,
    JsapiTicket,
}

/// In-process state of one credential: cache, single-flight gate and the last failure.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    cache: Mutex<Option<CachedToken>>,
    gate: tokio::sync::Mutex<()>,
    /// Number of completed passes through the gate.
    flights: AtomicU64,
    last_failure: Mutex<Option<Failure>>,
    /// Failed fetches in a row, and when the next may be made.
    backoff: Mutex<Option<Backoff>>,
}

/// The back-off after failed fetches.
#[derive(Debug, Clone)]
struct Backoff {
    failures: u32,
    until: tokio::time::Instant,
    error: String,
}

/// The wait after `failures` failed fetches in a row: `first`, doubled with each further
/// failure, at most `max`.
pub(crate) fn backoff_delay(
    first: std::time::Duration,
    max: std::time::Duration,
    failures: u32,
) -> std::time::Duration {
    let doublings = failures.saturating_sub(1).min(31);
    first.saturating_mul(1 << doublings).min(max)
}

#[derive(Debug, Clone)]
struct Failure {
    /// The value of `flights` after the failed pass.
    flight: u64,
    error: SharedError,
    /// A still-valid token handed out instead of the error.
    fallback: Option<CachedToken>,
}

#[derive(Debug, Clone)]
enum SharedError {
    Api { code: i64, errmsg: String },
    Other(String),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slot {
    fn cached(&self) -> Option<CachedToken> {
        lock(&self.cache).clone()
    }

    fn clear_if(&self, failed: &str) {
        let mut cache = lock(&self.cache);
        if cache.as_ref().is_some_and(|t| t.value == failed) {
            *cache = None;
        }
    }

    /// While backing off: the number of failures, the time left and the last error.
    fn backing_off(&self) -> Option<(u32, std::time::Duration, String)> {
        let backoff = lock(&self.backoff).clone()?;
        let left = backoff
            .until
            .saturating_duration_since(tokio::time::Instant::now());
        (!left.is_zero()).then_some((backoff.failures, left, backoff.error))
    }

    fn fetch_failed(
        &self,
        tuning: &crate::client::Tuning,
        error: &ApiError,
    ) -> std::time::Duration {
        let mut backoff = lock(&self.backoff);
        let failures = backoff.as_ref().map_or(0, |b| b.failures) + 1;
        let delay = backoff_delay(tuning.token_backoff, tuning.token_backoff_max, failures);
        *backoff = Some(Backoff {
            failures,
            until: tokio::time::Instant::now() + delay,
            error: error.to_string(),
        });
        delay
    }

    fn fetch_succeeded(&self) {
        *lock(&self.backoff) = None;
    }

    fn failure_after(&self, arrival: u64) -> Option<Failure> {
        lock(&self.last_failure)
            .clone()
            .filter(|f| f.flight > arrival)
    }
}

impl Client {
    /// The current access_token, fetched only if no fresh one is cached here or in the store.
    ///
    /// This is what every API call uses; `wxoa token` prints it.
    ///
    /// # Errors
    /// The fetch's error (e.g. [`ApiError::Api`] 40125 wrong AppSecret, 40164 IP not whitelisted,
    /// 45009 daily quota), [`ApiError::Store`], or [`ApiError::TokenLockTimeout`].
    pub async fn access_token(&self) -> Result<CachedToken, ApiError> {
        self.inner.token(Kind::AccessToken, None, false).await
    }

    /// Fetch a new access_token now, whatever is cached (`wxoa token --force`), and store it.
    ///
    /// With stable_token this sends `force_refresh=true`, which invalidates the previous token
    /// at once and is limited to 20 a day, 30 s apart: use it when a token leaked. With the
    /// classic endpoint every fetch supersedes the previous token (which keeps working ~5 min).
    ///
    /// # Errors
    /// As [`access_token`](Self::access_token).
    pub async fn force_refresh(&self) -> Result<CachedToken, ApiError> {
        self.inner.token(Kind::AccessToken, None, true).await
    }

    /// The JS-SDK `jsapi_ticket`, cached and shared exactly like the access_token
    /// (store key `"{appid}:jsapi_ticket"`).
    ///
    /// # Errors
    /// As [`access_token`](Self::access_token), plus the errors of `ticket/getticket`.
    pub async fn jsapi_ticket(&self) -> Result<CachedToken, ApiError> {
        self.inner.token(Kind::JsapiTicket, None, false).await
    }

    /// Report that `failed` was rejected by the platform outside this client (e.g. by another
    /// program using the token): expires it in the store only if it is still the stored one.
    /// Returns whether it did.
    ///
    /// # Errors
    /// [`ApiError::Store`].
    pub async fn expire_access_token(&self, failed: &str) -> Result<bool, ApiError> {
        self.inner.access.clear_if(failed);
        Ok(self
            .inner
            .store
            .expire_if(&self.inner.access_key, failed)
            .await?)
    }

    /// The store key of the access_token: `"{appid}:stable_token"` or `"{appid}:access_token"`.
    #[must_use]
    pub fn access_token_key(&self) -> &str {
        &self.inner.access_key
    }

    /// The store key of the jsapi_ticket: `"{appid}:jsapi_ticket"`.
    #[must_use]
    pub fn jsapi_ticket_key(&self) -> &str {
        &self.inner.ticket_key
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

#[derive(Deserialize)]
struct TicketResponse {
    ticket: String,
    expires_in: i64,
}

/// Decode a credential response; on failure the body is not echoed (it may hold the secret value).
fn decode_secret<T: serde::de::DeserializeOwned>(raw: Raw) -> Result<T, ApiError> {
    let v = json_value(&raw)?;
    serde_json::from_value(v).map_err(|e| ApiError::Decode {
        body: format!(
            "<credential response of {} bytes, not shown>",
            raw.body.len()
        ),
        source: e,
    })
}

impl Inner {
    fn slot(&self, kind: Kind) -> &Slot {
        match kind {
            Kind::AccessToken => &self.access,
            Kind::JsapiTicket => &self.ticket,
        }
    }

    fn key(&self, kind: Kind) -> &str {
        match kind {
            Kind::AccessToken => &self.access_key,
            Kind::JsapiTicket => &self.ticket_key,
        }
    }

    /// Whether `t` may be handed out without fetching.
    ///
    /// `avoid`: a value just rejected by the platform. `force` without `avoid`: never (the caller
    /// wants a new token); `force` with `avoid`: any fresh token other than the rejected one.
    fn accept(&self, t: &CachedToken, now: i64, avoid: Option<&str>, force: bool) -> bool {
        if force && avoid.is_none() {
            return false;
        }
        t.expires_at - now > self.tuning.refresh_margin && avoid != Some(t.value.as_str())
    }

    /// A token for `kind`; see the module documentation for the algorithm.
    pub(crate) async fn token(
        &self,
        kind: Kind,
        avoid: Option<&str>,
        force: bool,
    ) -> Result<CachedToken, ApiError> {
        let slot = self.slot(kind);
        if let Some(t) = slot.cached()
            && self.accept(&t, self.clock.now_unix(), avoid, force)
        {
            return Ok(t);
        }
        let arrival = slot.flights.load(Ordering::SeqCst);
        let _gate = slot.gate.lock().await;
        if slot.flights.load(Ordering::SeqCst) != arrival {
            // Another caller went through the gate while this one queued.
            if let Some(t) = slot.cached()
                && self.accept(&t, self.clock.now_unix(), avoid, force)
            {
                return Ok(t);
            }
            if !force && let Some(f) = slot.failure_after(arrival) {
                return match f.fallback {
                    Some(t) => Ok(t),
                    None => Err(self.shared_error(kind, f.error)),
                };
            }
        }
        let (outcome, stale) = self.token_gated(kind, avoid, force).await;
        let flight = slot.flights.fetch_add(1, Ordering::SeqCst) + 1;
        match outcome {
            Ok(t) => {
                *lock(&slot.cache) = Some(t.clone());
                Ok(t)
            }
            Err(e) => {
                let fallback = if force { None } else { stale };
                let error = match &e {
                    ApiError::Api { code, errmsg, .. } => SharedError::Api {
                        code: *code,
                        errmsg: errmsg.clone(),
                    },
                    other => SharedError::Other(other.to_string()),
                };
                *lock(&slot.last_failure) = Some(Failure {
                    flight,
                    error,
                    fallback: fallback.clone(),
                });
                match fallback {
                    Some(t) => {
                        tracing::warn!(
                            key = self.key(kind), error = %e, remaining_secs = t.remaining_secs(self.clock.now_unix()),
                            "token refresh failed; using the current token until it expires"
                        );
                        Ok(t)
                    }
                    None => Err(e),
                }
            }
        }
    }

    fn shared_error(&self, kind: Kind, e: SharedError) -> ApiError {
        match e {
            SharedError::Api { code, errmsg } => ApiError::api(code, errmsg),
            SharedError::Other(reason) => ApiError::TokenFetchFailed {
                key: self.key(kind).to_owned(),
                reason,
            },
        }
    }

    /// Steps 3 and 4, holding the in-process gate. Also returns a still-valid stored token that
    /// may stand in if this fails.
    async fn token_gated(
        &self,
        kind: Kind,
        avoid: Option<&str>,
        force: bool,
    ) -> (Result<CachedToken, ApiError>, Option<CachedToken>) {
        let key = self.key(kind);
        let started = tokio::time::Instant::now();
        let give_up = self.tuning.lock_ttl.saturating_mul(2);
        let mut stale = None;
        loop {
            let now = self.clock.now_unix();
            match self.store.get(key).await {
                Ok(Some(t)) if self.accept(&t, now, avoid, force) => return (Ok(t), None),
                Ok(Some(t)) => {
                    if t.expires_at - now >= FALLBACK_MIN_SECS && avoid != Some(t.value.as_str()) {
                        stale = Some(t);
                    }
                }
                Ok(None) => {}
                Err(e) => return (Err(e.into()), stale),
            }
            if !force && let Some((failures, left, error)) = self.slot(kind).backing_off() {
                let reason = format!(
                    "not fetching again for {} ms after {failures} failed fetches in a row (last: {error})",
                    left.as_millis()
                );
                return (
                    Err(ApiError::TokenFetchFailed {
                        key: key.to_owned(),
                        reason,
                    }),
                    stale,
                );
            }
            match self
                .store
                .try_lock(key, &self.holder, self.tuning.lock_ttl)
                .await
            {
                Ok(true) => {
                    let result = self.fetch_locked(kind, avoid, force).await;
                    if let Err(e) = self.store.unlock(key, &self.holder).await {
                        tracing::warn!(key, error = %e, "could not release the token lock; it dies after its ttl");
                    }
                    return (result, stale);
                }
                Ok(false) => {}
                Err(e) => return (Err(e.into()), stale),
            }
            let waited = started.elapsed();
            if waited >= give_up {
                return (
                    Err(ApiError::TokenLockTimeout {
                        key: key.to_owned(),
                        waited,
                    }),
                    stale,
                );
            }
            tracing::debug!(
                key,
                "another process is fetching this token; waiting for it"
            );
            tokio::time::sleep(self.tuning.lock_poll).await;
        }
    }

    /// Holding the store lock: double-check, fetch, put, count.
    async fn fetch_locked(
        &self,
        kind: Kind,
        avoid: Option<&str>,
        force: bool,
    ) -> Result<CachedToken, ApiError> {
        let key = self.key(kind);
        // The previous holder may have stored a token between our read and our lock.
        if let Some(t) = self.store.get(key).await?
            && self.accept(&t, self.clock.now_unix(), avoid, force)
        {
            return Ok(t);
        }
        let now = self.clock.now_unix();
        let slot = self.slot(kind);
        let token = match self.fetch(kind, force).await {
            Ok(token) => {
                slot.fetch_succeeded();
                token
            }
            Err(e) => {
                let delay = slot.fetch_failed(&self.tuning, &e);
                tracing::warn!(key, error = %e, retry_in_ms = delay.as_millis() as u64, "token fetch failed; backing off");
                return Err(e);
            }
        };
        if let Err(e) = self.store.put(key, &token).await {
            // The token works; failing the caller would not help. Other processes will fetch their own.
            tracing::warn!(key, error = %e, "fetched a token but could not store it; other processes cannot share it");
        }
        self.count_fetch(key, now).await;
        tracing::info!(key, token = %token.redacted(), expires_at = token.expires_at, force, "fetched a new token");
        Ok(token)
    }

    async fn count_fetch(&self, key: &str, now: i64) {
        let day = beijing_date(now);
        metrics::counter!(TOKEN_FETCHES, "key" => key.to_owned()).increment(1);
        let counted = self.store.count_fetch(key, &day).await;
        if let Ok(n) = &counted {
            #[allow(clippy::cast_precision_loss)] // a day's count is far below 2^52
            metrics::gauge!(TOKEN_FETCHES_TODAY, "key" => key.to_owned()).set(*n as f64);
        }
        match counted {
            Ok(n) if n >= DAILY_FETCH_LIMIT => tracing::warn!(
                key,
                day,
                count = n,
                limit = DAILY_FETCH_LIMIT,
                "daily token fetch limit reached: the platform answers 45009 until midnight Beijing time (clear_quota resets it, 10 times a month)"
            ),
            Ok(n) if n >= FETCH_WARN_THRESHOLD => tracing::warn!(
                key,
                day,
                count = n,
                limit = DAILY_FETCH_LIMIT,
                "token fetches today passed 80% of the daily limit; are processes fetching on their own instead of sharing one token store?"
            ),
            Ok(n) => tracing::debug!(key, day, count = n, "token fetch counted"),
            Err(e) => tracing::warn!(key, error = %e, "could not count the token fetch"),
        }
    }

    /// One fetch from the platform. Boxed: a ticket fetch is an API call, which needs a token.
    fn fetch(&self, kind: Kind, force: bool) -> BoxFuture<'_, Result<CachedToken, ApiError>> {
        Box::pin(async move {
            let now = self.clock.now_unix();
            let (value, expires_in) = match kind {
                Kind::AccessToken => {
                    let r: TokenResponse = self
                        .call(&self.token_request(force)?, decode_secret)
                        .await?;
                    (r.access_token, r.expires_in)
                }
                Kind::JsapiTicket => {
                    let req = Req::get("/cgi-bin/ticket/getticket")
                        .query("type", "jsapi")
                        .safe();
                    let mut r: TicketResponse = self.call(&req, decode_secret).await?;
                    r.ticket = r.ticket.trim().to_owned();
                    (r.ticket, r.expires_in)
                }
            };
            if value.is_empty() {
                return Err(ApiError::TokenFetchFailed {
                    key: self.key(kind).to_owned(),
                    reason: "the platform returned an empty credential".to_owned(),
                });
            }
            if expires_in <= self.tuning.refresh_margin {
                tracing::warn!(
                    key = self.key(kind),
                    expires_in,
                    "the platform returned a token that expires within the refresh margin"
                );
            }
            Ok(CachedToken::new(value, now + expires_in))
        })
    }

    fn token_request(&self, force: bool) -> Result<Req, ApiError> {
        use secrecy::ExposeSecret;
        let secret = self.secret.expose_secret();
        if secret.trim().is_empty() {
            return Err(ApiError::Config(
                "account.secret is empty; set it (preferably via WXOA_ACCOUNT__SECRET) to fetch an access_token".to_owned(),
            ));
        }
        if self.stable_token {
            let body = serde_json::json!({
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": secret,
                "force_refresh": force,
            });
            Ok(Req::post("/cgi-bin/stable_token", &body)?.token_fetch())
        } else {
            Ok(Req::get("/cgi-bin/token")
                .query("grant_type", "client_credential")
                .query("appid", self.appid.clone())
                .query("secret", secret)
                .token_fetch())
        }
    }

    /// After the platform rejected `failed`: compare-and-expire it, get another token (from the
    /// store or one fetch), and with stable_token escalate once to `force_refresh` if the fetch
    /// handed back the same value.
    pub(crate) async fn recover_token(&self, failed: &str) -> Result<CachedToken, ApiError> {
        let expired = self.store.expire_if(&self.access_key, failed).await?;
        self.access.clear_if(failed);
        tracing::debug!(key = %self.access_key, expired, "compare-and-expire of the rejected token");
        let next = self.token(Kind::AccessToken, Some(failed), false).await?;
        if next.value == failed && self.stable_token {
            tracing::warn!(
                key = %self.access_key,
                "stable_token handed back the rejected token; escalating once to force_refresh=true"
            );
            return self.token(Kind::AccessToken, Some(failed), true).await;
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_keeps_a_dead_api_far_below_the_daily_limit() {
        use std::time::Duration;
        let (first, max) = (
            crate::client::DEFAULT_TOKEN_BACKOFF,
            crate::client::DEFAULT_TOKEN_BACKOFF_MAX,
        );
        let plan: Vec<u64> = (1..=11)
            .map(|n| backoff_delay(first, max, n).as_secs())
            .collect();
        assert_eq!(plan, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff_delay(first, max, u32::MAX), max);
        // Attempts in a day against an API that never answers: each waits at least its delay.
        let (mut elapsed, mut attempts) = (Duration::ZERO, 0_u64);
        while elapsed < Duration::from_secs(86_400) {
            attempts += 1;
            elapsed += backoff_delay(first, max, u32::try_from(attempts).unwrap());
        }
        assert!(
            attempts < DAILY_FETCH_LIMIT / 6,
            "{attempts} attempts a day"
        );
    }

    #[test]
    fn warn_threshold_is_80_percent() {
        assert_eq!(FETCH_WARN_THRESHOLD, 1600);
    }

    #[test]
    fn credential_decode_errors_do_not_echo_the_body() {
        let raw = Raw {
            path: "/cgi-bin/token".to_owned(),
            status: 200,
            content_type: None,
            disposition: None,
            body: br#"{"access_token":"SECRET-TOKEN-VALUE"}"#.to_vec(),
        };
        let e = decode_secret::<TokenResponse>(raw).err().unwrap();
        assert!(!e.to_string().contains("SECRET-TOKEN-VALUE"), "{e}");
        assert!(matches!(e, ApiError::Decode { .. }));
    }
}
