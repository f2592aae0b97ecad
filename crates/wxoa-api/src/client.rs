//! `Client` and its builder, and the request plumbing every endpoint goes through (token, retries, errcode).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::Method;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::errcode;
use crate::error::ApiError;
use crate::token::{Kind, Slot};
use crate::token_store::{CachedToken, MemoryTokenStore, TokenStore};

/// The platform's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";
/// The host of the OAuth2 authorize page (网页授权).
pub const DEFAULT_OAUTH_BASE_URL: &str = "https://open.weixin.qq.com";
/// Refresh margin: a cached token with this many seconds or fewer left is refreshed before use.
///
/// 300 s matches the platform's own overlap: a superseded classic token keeps working for about
/// 5 minutes, and stable_token rotates 5 minutes before expiry, so a refresh inside the margin
/// never leaves a caller holding a dead token.
pub const REFRESH_MARGIN_SECS: i64 = 300;
/// Default lifetime of the cross-process fetch lock; longer than one token fetch with its retries.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(15);
/// Default interval at which a process waiting on another's fetch re-reads the store.
pub const DEFAULT_LOCK_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Default timeout of one HTTP request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default timeout for establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of retries after `-1` (system busy) for calls that are safe to repeat.
pub const DEFAULT_BUSY_RETRIES: u32 = 3;
/// Default first back-off after `-1`; doubles on each retry (1 s, 2 s, 4 s).
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
/// Default wait after a failed token fetch before the next one; doubles with each failure in
/// a row (1 s, 2 s, 4 s, … up to [`DEFAULT_TOKEN_BACKOFF_MAX`]).
pub const DEFAULT_TOKEN_BACKOFF: Duration = Duration::from_secs(1);
/// Default longest wait between failed token fetches: an API that never answers costs at most
/// one attempt per 5 minutes (≈ 300 a day, far below the 2000-a-day quota) per process.
pub const DEFAULT_TOKEN_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// A client for the platform's outbound APIs, sharing one access_token with every other
/// process that uses the same [`TokenStore`].
///
/// Cheap to clone (an `Arc` inside); build it once with [`Client::builder`] and share it.
/// Every call gets its access_token from the provider (see [`Client::access_token`]): a cached
/// token is used until [`REFRESH_MARGIN_SECS`] before expiry; one fetch at a time per process
/// (single-flight) and per store (lock); on 40001 / 40014 / 42001 the failing token is expired
/// only if it is still the stored one, fetched once and the call retried once.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) appid: String,
    pub(crate) secret: SecretString,
    pub(crate) base_url: String,
    pub(crate) oauth_base_url: String,
    pub(crate) stable_token: bool,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) tuning: Tuning,
    /// This client's name in the store's lock table (process id + random).
    pub(crate) holder: String,
    pub(crate) access_key: String,
    pub(crate) ticket_key: String,
    pub(crate) access: Slot,
    pub(crate) ticket: Slot,
}

#[derive(Debug, Clone)]
pub(crate) struct Tuning {
    pub(crate) refresh_margin: i64,
    pub(crate) lock_ttl: Duration,
    pub(crate) lock_poll: Duration,
    pub(crate) busy_retries: u32,
    pub(crate) backoff: Duration,
    pub(crate) token_backoff: Duration,
    pub(crate) token_backoff_max: Duration,
}

/// Builder for [`Client`]; see each method for its default.
pub struct ClientBuilder {
    appid: String,
    secret: SecretString,
    base_url: String,
    oauth_base_url: String,
    stable_token: bool,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    store: Option<Arc<dyn TokenStore>>,
    clock: Option<Arc<dyn Clock>>,
    tuning: Tuning,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("appid", &self.appid)
            .field("base_url", &self.base_url)
            .field("stable_token", &self.stable_token)
            .field("timeout", &self.timeout)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Start building a client for the account `appid` with its AppSecret.
    pub fn builder(appid: impl Into<String>, secret: impl Into<SecretString>) -> ClientBuilder {
        ClientBuilder::new(appid, secret)
    }

    /// The account's AppID.
    #[must_use]
    pub fn appid(&self) -> &str {
        &self.inner.appid
    }

    /// The API base URL in use (no trailing slash).
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Whether access_tokens come from `/cgi-bin/stable_token` (else the classic `/cgi-bin/token`).
    #[must_use]
    pub fn uses_stable_token(&self) -> bool {
        self.inner.stable_token
    }

    /// The token store shared with other processes.
    #[must_use]
    pub fn token_store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// The clock used for expiry.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// `GET` any token-authenticated API under the base URL (e.g. `"/cgi-bin/get_current_selfmenu_info"`)
    /// and return its JSON. Retried on `-1`, refreshed on a rejected token, like the typed endpoints.
    ///
    /// # Errors
    /// As every endpoint: [`ApiError::Api`] for a non-zero `errcode`, transport and decode errors.
    pub async fn get_json(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ApiError> {
        let mut req = Req::get(path);
        for (k, v) in query {
            req.query.push(((*k).to_owned(), (*v).to_owned()));
        }
        self.inner.call(&req, decode_value).await
    }

    /// `POST` a JSON body to any token-authenticated API under the base URL and return its JSON.
    ///
    /// `safe_to_repeat` says whether a `-1` answer may be retried (true only for reads and
    /// idempotent writes; never for sends).
    ///
    /// # Errors
    /// As every endpoint.
    pub async fn post_json(
        &self,
        path: &str,
        body: &(impl Serialize + ?Sized),
        safe_to_repeat: bool,
    ) -> Result<Value, ApiError> {
        let mut req = Req::post(path, body)?;
        if safe_to_repeat {
            req = req.safe();
        }
        self.inner.call(&req, decode_value).await
    }
}

impl ClientBuilder {
    /// A builder with the defaults: the real API host, stable_token on, 10 s request timeout,
    /// a [`MemoryTokenStore`] and the [`SystemClock`].
    pub fn new(appid: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        Self {
            appid: appid.into(),
            secret: secret.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            oauth_base_url: DEFAULT_OAUTH_BASE_URL.to_owned(),
            stable_token: true,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            store: None,
            clock: None,
            tuning: Tuning {
                refresh_margin: REFRESH_MARGIN_SECS,
                lock_ttl: DEFAULT_LOCK_TTL,
                lock_poll: DEFAULT_LOCK_POLL_INTERVAL,
                busy_retries: DEFAULT_BUSY_RETRIES,
                backoff: DEFAULT_BACKOFF,
                token_backoff: DEFAULT_TOKEN_BACKOFF,
                token_backoff_max: DEFAULT_TOKEN_BACKOFF_MAX,
            },
            http: None,
        }
    }

    /// API base URL (default [`DEFAULT_BASE_URL`]); point it at a fake platform in tests.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Base URL of the OAuth2 authorize page (default [`DEFAULT_OAUTH_BASE_URL`]).
    #[must_use]
    pub fn oauth_base_url(mut self, url: impl Into<String>) -> Self {
        self.oauth_base_url = url.into();
        self
    }

    /// Use `POST /cgi-bin/stable_token` (default `true`) or the classic `GET /cgi-bin/token`.
    ///
    /// The two are isolated on the platform and are cached under different keys.
    #[must_use]
    pub fn stable_token(mut self, on: bool) -> Self {
        self.stable_token = on;
        self
    }

    /// Timeout of one HTTP request (default [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// No HTTP timeouts at all. Only for tests under paused tokio time, where an idle runtime
    /// jumps the clock to the next timer and would fire a request timeout at once.
    #[must_use]
    pub fn disable_timeouts(mut self) -> Self {
        self.timeout = None;
        self.connect_timeout = None;
        self
    }

    /// The store shared with other processes (default: a new [`MemoryTokenStore`], this process only).
    #[must_use]
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock used for expiry and the daily counter (default [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Refresh a cached token when this much or less of its life is left (default [`REFRESH_MARGIN_SECS`]).
    #[must_use]
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.tuning.refresh_margin = i64::try_from(margin.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Lifetime of the cross-process fetch lock (default [`DEFAULT_LOCK_TTL`]): how long others
    /// wait on a holder that died mid-fetch. Keep it above one fetch with its retries.
    #[must_use]
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.tuning.lock_ttl = ttl;
        self
    }

    /// How often a process waiting on another's fetch re-reads the store (default [`DEFAULT_LOCK_POLL_INTERVAL`]).
    #[must_use]
    pub fn lock_poll_interval(mut self, interval: Duration) -> Self {
        self.tuning.lock_poll = interval;
        self
    }

    /// Retries after `-1` for calls safe to repeat (default [`DEFAULT_BUSY_RETRIES`]); token fetches retry at most twice.
    #[must_use]
    pub fn busy_retries(mut self, retries: u32) -> Self {
        self.tuning.busy_retries = retries;
        self
    }

    /// First back-off after `-1`, doubled on each retry (default [`DEFAULT_BACKOFF`]).
    #[must_use]
    pub fn busy_backoff(mut self, first: Duration) -> Self {
        self.tuning.backoff = first;
        self
    }

    /// After a failed token fetch, wait `first` before the next one, doubling with each failure
    /// in a row up to `max` (defaults [`DEFAULT_TOKEN_BACKOFF`], [`DEFAULT_TOKEN_BACKOFF_MAX`]).
    /// Meanwhile callers get a still-valid token when there is one, else the fetch's error at
    /// once; a token put in the store by another process is used as soon as it is there.
    #[must_use]
    pub fn token_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.tuning.token_backoff = first;
        self.tuning.token_backoff_max = max.max(first);
        self
    }

    /// Use this `reqwest::Client` (its own timeouts apply; [`timeout`](Self::timeout) is ignored).
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Build the client.
    ///
    /// # Errors
    /// [`ApiError::Config`] for an empty AppID, a base URL that is not `http(s)://…`, or an
    /// HTTP client that cannot be built.
    pub fn build(self) -> Result<Client, ApiError> {
        let appid = self.appid.trim().to_owned();
        if appid.is_empty() {
            return Err(ApiError::Config("account appid is empty".to_owned()));
        }
        let base_url = check_base_url("api.base_url", &self.base_url)?;
        let oauth_base_url = check_base_url("oauth base url", &self.oauth_base_url)?;
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut b = reqwest::Client::builder()
                    .user_agent(concat!("wxoa-api/", env!("CARGO_PKG_VERSION")));
                if let Some(t) = self.timeout {
                    b = b.timeout(t);
                }
                if let Some(t) = self.connect_timeout {
                    b = b.connect_timeout(t);
                }
                b.build()
                    .map_err(|e| ApiError::Config(format!("cannot build the HTTP client: {e}")))?
            }
        };
        let holder = format!(
            "{}-{:016x}",
            std::process::id(),
            rand::rng().random::<u64>()
        );
        let access_key = if self.stable_token {
            format!("{appid}:stable_token")
        } else {
            format!("{appid}:access_token")
        };
        let ticket_key = format!("{appid}:jsapi_ticket");
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                appid,
                secret: self.secret,
                base_url,
                oauth_base_url,
                stable_token: self.stable_token,
                store: self
                    .store
                    .unwrap_or_else(|| Arc::new(MemoryTokenStore::new())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                tuning: self.tuning,
                holder,
                access_key,
                ticket_key,
                access: Slot::default(),
                ticket: Slot::default(),
            }),
        })
    }
}

fn check_base_url(what: &str, raw: &str) -> Result<String, ApiError> {
    let trimmed = raw.trim().trim_end_matches('/');
    match url::Url::parse(trimmed) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(trimmed.to_owned())
        }
        Ok(_) => Err(ApiError::Config(format!(
            "{what} `{raw}` must be an http:// or https:// URL"
        ))),
        Err(e) => Err(ApiError::Config(format!(
            "{what} `{raw}` is not a URL: {e}"
        ))),
    }
}

/// Whether a request may be sent again after `-1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads and idempotent writes: retried with back-off.
    Safe,
    /// Token and ticket fetches: retried at most twice so the fetch stays inside the lock ttl.
    Token,
    /// Sends and other non-idempotent calls: never repeated.
    Never,
}

/// Number of `-1` retries of a token fetch.
pub(crate) const TOKEN_BUSY_RETRIES: u32 = 2;

#[derive(Debug)]
pub(crate) enum Body {
    Empty,
    Json(Vec<u8>),
    /// A multipart form with one file in the field `media`, and text fields (e.g. a video's
    /// `description`).
    Media {
        filename: String,
        content_type: String,
        bytes: Vec<u8>,
        fields: Vec<(String, String)>,
        progress: Option<Progress>,
    },
}

/// Told the number of file bytes handed to the connection so far, as an upload goes.
#[derive(Clone)]
pub struct Progress(pub(crate) Arc<dyn Fn(u64) + Send + Sync>);

impl Progress {
    /// Call `report` with the bytes sent so far (a running total) as the upload goes.
    pub fn new(report: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Chunk size of a streamed upload (one progress report each).
const UPLOAD_CHUNK: usize = 64 * 1024;

/// The file of a multipart upload: streamed in chunks reporting progress, or in one piece.
fn upload_part(bytes: &[u8], progress: Option<&Progress>) -> reqwest::multipart::Part {
    let Some(progress) = progress.cloned() else {
        return reqwest::multipart::Part::bytes(bytes.to_vec());
    };
    let total = bytes.len() as u64;
    let chunks: Vec<bytes::Bytes> = bytes
        .chunks(UPLOAD_CHUNK)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    let mut sent = 0_u64;
    let stream = futures_util::stream::iter(chunks.into_iter().map(move |chunk| {
        sent += chunk.len() as u64;
        (progress.0)(sent);
        Ok::<_, std::io::Error>(chunk)
    }));
    reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), total)
}

/// API calls made, by `endpoint` (the path) and `errcode` (`0`, a platform code, or
/// `transport`).
pub(crate) const API_CALLS: &str = "wxoa_api_calls_total";

/// One API request, rebuilt into an HTTP request on each attempt.
#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Body,
    /// Whether to add `access_token` (from the provider) to the query.
    pub(crate) auth: bool,
    pub(crate) repeat: Repeat,
}

impl Req {
    /// A token-authenticated GET; safe to repeat.
    pub(crate) fn get(path: &str) -> Self {
        Self {
            method: Method::GET,
            path: path.to_owned(),
            query: Vec::new(),
            body: Body::Empty,
            auth: true,
            repeat: Repeat::Safe,
        }
    }

    /// A token-authenticated POST of `body` as raw UTF-8 JSON (no `\u` escapes); never repeated
    /// unless marked [`safe`](Self::safe).
    pub(crate) fn post(path: &str, body: &(impl Serialize + ?Sized)) -> Result<Self, ApiError> {
        // serde_json writes non-ASCII as raw UTF-8; the platform rejects \uXXXX with 40033.
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiError::Validation(format!("cannot encode the request body: {e}")))?;
        Ok(Self {
            method: Method::POST,
            path: path.to_owned(),
            query: Vec::new(),
            body: Body::Json(bytes),
            auth: true,
            repeat: Repeat::Never,
        })
    }

    pub(crate) fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    pub(crate) fn safe(mut self) -> Self {
        self.repeat = Repeat::Safe;
        self
    }

    pub(crate) fn never_repeat(mut self) -> Self {
        self.repeat = Repeat::Never;
        self
    }

    pub(crate) fn without_token(mut self) -> Self {
        self.auth = false;
        self
    }

    pub(crate) fn token_fetch(mut self) -> Self {
        self.auth = false;
        self.repeat = Repeat::Token;
        self
    }
}

/// An HTTP response read to the end.
#[derive(Debug)]
pub(crate) struct Raw {
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) disposition: Option<String>,
    pub(crate) body: Vec<u8>,
}

const SNIPPET_CHARS: usize = 2000;

/// The body as text for an error message, cut to a reasonable length.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

/// The JSON of a successful response: HTTP 2xx and `errcode` absent or 0.
pub(crate) fn json_value(raw: &Raw) -> Result<Value, ApiError> {
    if !(200..300).contains(&raw.status) {
        return Err(ApiError::Status {
            path: raw.path.clone(),
            status: raw.status,
            body: snippet(&raw.body),
        });
    }
    let v: Value = serde_json::from_slice(&raw.body).map_err(|e| ApiError::Decode {
        body: snippet(&raw.body),
        source: e,
    })?;
    check_errcode(&v)?;
    Ok(v)
}

/// [`ApiError::Api`] if `v` carries a non-zero `errcode`.
pub(crate) fn check_errcode(v: &Value) -> Result<(), ApiError> {
    let code = v.get("errcode").and_then(|c| {
        c.as_i64()
            .or_else(|| c.as_str().and_then(|s| s.trim().parse().ok()))
    });
    match code {
        None | Some(0) => Ok(()),
        Some(code) => Err(ApiError::api(
            code,
            v.get("errmsg").and_then(Value::as_str).unwrap_or_default(),
        )),
    }
}

/// Decode a successful JSON response into `T`.
pub(crate) fn decode<T: DeserializeOwned>(raw: Raw) -> Result<T, ApiError> {
    let v = json_value(&raw)?;
    serde_json::from_value(v).map_err(|e| ApiError::Decode {
        body: snippet(&raw.body),
        source: e,
    })
}

/// Accept any successful JSON response (`{"errcode":0,"errmsg":"ok"}`).
pub(crate) fn decode_ok(raw: Raw) -> Result<(), ApiError> {
    json_value(&raw).map(|_| ())
}

fn decode_value(raw: Raw) -> Result<Value, ApiError> {
    json_value(&raw)
}

impl Inner {
    /// Send `req` and decode the answer, with the provider's token, the one-time retry after a
    /// rejected token, and the `-1` back-off for requests safe to repeat.
    pub(crate) async fn call<T, F>(&self, req: &Req, decode: F) -> Result<T, ApiError>
    where
        F: Fn(Raw) -> Result<T, ApiError>,
    {
        let mut token: Option<CachedToken> = if req.auth {
            Some(self.token(Kind::AccessToken, None, false).await?)
        } else {
            None
        };
        let mut token_retried = false;
        let mut busy = 0_u32;
        let max_busy = match req.repeat {
            Repeat::Safe => self.tuning.busy_retries,
            Repeat::Token => TOKEN_BUSY_RETRIES.min(self.tuning.busy_retries),
            Repeat::Never => 0,
        };
        loop {
            let attempt = self
                .execute(req, token.as_ref().map(|t| t.value.as_str()))
                .await;
            let result = attempt.and_then(&decode);
            let errcode = match &result {
                Ok(_) => "0".to_owned(),
                Err(e) => e
                    .code()
                    .map_or_else(|| "transport".to_owned(), |c| c.to_string()),
            };
            metrics::counter!(API_CALLS, "endpoint" => req.path.clone(), "errcode" => errcode)
                .increment(1);
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match (err.code(), token.as_ref()) {
                // The platform refused the credential, so the call had no effect: retrying once is
                // safe even for a send. A second refusal is returned, never looped on.
                (Some(code), Some(failed))
                    if errcode::is_token_rejected(code) && !token_retried =>
                {
                    token_retried = true;
                    tracing::warn!(
                        path = %req.path, code, token = %failed.redacted(),
                        "access_token rejected; expiring it if still stored, refetching and retrying once"
                    );
                    let failed = failed.value.clone();
                    token = Some(self.recover_token(&failed).await?);
                }
                (Some(errcode::SYSTEM_BUSY), _) if busy < max_busy => {
                    let delay = self
                        .tuning
                        .backoff
                        .saturating_mul(2_u32.saturating_pow(busy));
                    busy += 1;
                    tracing::warn!(path = %req.path, attempt = busy, ?delay, "platform busy (-1); retrying after back-off");
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(err),
            }
        }
    }

    async fn execute(&self, req: &Req, token: Option<&str>) -> Result<Raw, ApiError> {
        let url = format!("{}{}", self.base_url, req.path);
        let mut query: Vec<(&str, &str)> = Vec::with_capacity(req.query.len() + 1);
        if let Some(t) = token {
            query.push(("access_token", t));
        }
        query.extend(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut rb = self.http.request(req.method.clone(), url);
        if !query.is_empty() {
            rb = rb.query(&query);
        }
        rb = match &req.body {
            Body::Empty => rb,
            Body::Json(bytes) => rb
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(bytes.clone()),
            Body::Media {
                filename,
                content_type,
                bytes,
                fields,
                progress,
            } => {
                let part = upload_part(bytes, progress.as_ref())
                    .file_name(filename.clone())
                    .mime_str(content_type)
                    .map_err(|e| {
                        ApiError::Validation(format!("bad content type `{content_type}`: {e}"))
                    })?;
                let mut form = reqwest::multipart::Form::new().part("media", part);
                for (name, value) in fields {
                    form = form.text(name.clone(), value.clone());
                }
                rb.multipart(form)
            }
        };
        // Never log the URL: its query carries the access_token (or the AppSecret).
        tracing::debug!(path = %req.path, method = %req.method, "calling the WeChat API");
        let resp = rb.send().await.map_err(|e| ApiError::http(&req.path, e))?;
        let status = resp.status().as_u16();
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(CONTENT_TYPE);
        let disposition = header(CONTENT_DISPOSITION);
        let body = resp
            .bytes()
            .await
            .map_err(|e| ApiError::http(&req.path, e))?
            .to_vec();
        Ok(Raw {
            path: req.path.clone(),
            status,
            content_type,
            disposition,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> Raw {
        Raw {
            path: "/x".to_owned(),
            status,
            content_type: None,
            disposition: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn errcode_zero_and_absent_are_success() {
        assert!(json_value(&raw(200, r#"{"errcode":0,"errmsg":"ok"}"#)).is_ok());
        assert!(json_value(&raw(200, r#"{"ip_list":[]}"#)).is_ok());
        let e =
            json_value(&raw(200, r#"{"errcode":"40013","errmsg":"invalid appid"}"#)).unwrap_err();
        assert_eq!(e.code(), Some(40013));
    }

    #[test]
    fn http_errors_and_garbage_are_typed() {
        assert!(matches!(
            json_value(&raw(502, "bad gateway")),
            Err(ApiError::Status { status: 502, .. })
        ));
        assert!(matches!(
            json_value(&raw(200, "<html>")),
            Err(ApiError::Decode { .. })
        ));
    }

    #[test]
    fn json_bodies_are_raw_utf8() {
        let req = Req::post(
            "/cgi-bin/menu/create",
            &serde_json::json!({"name": "菜单😀"}),
        )
        .unwrap();
        let Body::Json(bytes) = req.body else {
            panic!("not json")
        };
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text, r#"{"name":"菜单😀"}"#);
        assert!(!text.contains("\\u"));
    }

    #[test]
    fn builder_rejects_bad_config() {
        assert!(matches!(
            Client::builder(" ", "s").build(),
            Err(ApiError::Config(_))
        ));
        assert!(matches!(
            Client::builder("wx1", "s").base_url("ftp://x").build(),
            Err(ApiError::Config(_))
        ));
        assert!(matches!(
            Client::builder("wx1", "s").base_url("not a url").build(),
            Err(ApiError::Config(_))
        ));
        let c = Client::builder("wx1", "s")
            .base_url("http://127.0.0.1:9/wx/")
            .build()
            .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:9/wx");
        assert!(c.uses_stable_token());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Client::builder("wx1", "TOP-SECRET-VALUE").build().unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("TOP-SECRET-VALUE"), "{shown}");
        assert!(shown.contains("wx1"));
    }

    #[test]
    fn snippet_truncates_long_bodies() {
        let long = "x".repeat(5000);
        let s = snippet(long.as_bytes());
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
