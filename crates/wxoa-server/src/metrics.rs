//! Metrics (Prometheus) and the admin listener: `/healthz`, `/readyz`, `/metrics`, served on
//! `server.admin_listen`, never on the public callback port.
//!
//! Library code records through the `metrics` facade; the recorder is installed once per
//! process by [`install_recorder`] (tests never install it, so recording is a no-op there).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::admin::Console;
use crate::app::{App, Source};
use crate::push::Mode;
use crate::readiness::Readiness;

/// Pushes answered, by `account`, `mode`, `msg_type` and `status` (HTTP status).
pub const PUSHES: &str = "wxoa_pushes_total";
/// Requests refused at the edge, by `reason`.
pub const REFUSED: &str = "wxoa_refused_total";
/// Times the callback listener reached `server.max_connections` and stopped accepting.
pub const CONNECTIONS_CAPPED: &str = "wxoa_connections_capped_total";
/// Time to produce an answer, seconds, by `account` and `source`.
pub const HANDLER_SECONDS: &str = "wxoa_handler_seconds";
/// Answers by `account` and dedup `source`: fresh, coalesced (waited for the attempt in flight), cached.
pub const DEDUP: &str = "wxoa_dedup_total";
/// Answers dropped from the in-memory dedup table before their window ended (it was full).
pub const DEDUP_EVICTED: &str = "wxoa_dedup_evicted_total";
/// Handler failures answered with `success`, by `kind` (render, panic, action).
pub const HANDLER_FAILURES: &str = "wxoa_handler_failures_total";
/// Outcomes of the slow-handler policy, by `policy` and `outcome`.
pub const DEADLINE: &str = "wxoa_deadline_total";
/// Slow work taken over from an instance that stopped renewing its lease (it died).
pub const WORK_TAKEN_OVER: &str = "wxoa_work_taken_over_total";

/// Histogram buckets around the platform's 5-second budget.
pub const HANDLER_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 7.5, 10.0, 15.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Install the process-wide Prometheus recorder (idempotent) and return its handle.
///
/// # Errors
/// Another metrics recorder was installed first.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HANDLER_SECONDS.to_owned()), HANDLER_BUCKETS)
        .map_err(|e| e.to_string())?
        .set_buckets_for_metric(
            Matcher::Full(crate::actions::chat::CHAT_SECONDS.to_owned()),
            crate::actions::chat::CHAT_BUCKETS,
        )
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

#[derive(Debug, Clone)]
struct AdminState {
    app: Arc<App>,
    handle: Option<PrometheusHandle>,
}

/// The admin router: `/healthz` (the process is up), `/readyz` (ready, degraded or not:
/// see [`Readiness`]) and `/metrics` (Prometheus text format; 404 when no recorder is installed).
/// The console is off: [`admin_listener`] with `None`.
pub fn admin_router(app: Arc<App>, handle: Option<PrometheusHandle>) -> Router {
    admin_listener(app, handle, None)
}

/// Everything `server.admin_listen` serves. Without a console: `/healthz`, `/readyz` and
/// `/metrics`, open, and a 404 with a hint elsewhere. With one: those three stay open to
/// loopback peers (others need a console session or HTTP Basic with the admin password), and
/// the console's page and `/api/v1` join them. Serve it with the peer's address
/// (`into_make_service_with_connect_info::<SocketAddr>`), or no peer counts as loopback.
pub fn admin_listener(
    app: Arc<App>,
    handle: Option<PrometheusHandle>,
    console: Option<Arc<Console>>,
) -> Router {
    let operations = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render))
        .with_state(AdminState { app, handle });
    match console {
        None => operations.fallback(console_off),
        Some(console) => operations
            .route_layer(axum::middleware::from_fn_with_state(
                Arc::clone(&console),
                crate::admin::guard_operations,
            ))
            .merge(crate::admin::router(console)),
    }
}

async fn console_off() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        "not found: this listener serves /healthz, /readyz and /metrics; the console is off \
         until [admin] sets password_hash (`wxoa admin passwd`) or sso_header\n",
    )
}

/// `/readyz`: 200 when pushes are answered (ready, or degraded with a fault worked around),
/// 503 when not. Plain text by default (`ready: …`, `degraded: …`, `not ready: …`, one line
/// per problem); JSON when the request accepts `application/json`:
/// `{"status":"ready"|"degraded"|"not_ready","rules":N,"problems":["…"]}`.
async fn readyz(State(state): State<AdminState>, headers: HeaderMap) -> impl IntoResponse {
    let rules = state.app.rules().len();
    let readiness = state.app.readiness().await;
    let status = if readiness.serves() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        let body = serde_json::json!({
            "status": readiness.status(),
            "rules": rules,
            "problems": readiness.problems(),
        });
        return (status, axum::Json(body)).into_response();
    }
    let text = match &readiness {
        Readiness::Ready => format!("ready: {rules} rules loaded, stores reachable\n"),
        Readiness::Degraded(problems) => format!(
            "degraded: {rules} rules loaded, pushes answered; {}\n",
            problems.join("; ")
        ),
        Readiness::NotReady(why) => format!("not ready: {why}\n"),
    };
    (status, text).into_response()
}

async fn render(State(state): State<AdminState>) -> impl IntoResponse {
    match &state.handle {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics recorder not installed\n").into_response(),
    }
}

/// `msg_type` label values of [`PUSHES`]: the known types by name, anything else `other`.
const MSG_TYPES: [&str; 10] = [
    "text",
    "image",
    "voice",
    "video",
    "shortvideo",
    "location",
    "link",
    "miniprogrampage",
    "event",
    "other",
];

/// Every mode and every source, in declaration order (so `value as usize` indexes them).
const MODES: [Mode; 3] = [Mode::Plain, Mode::Compat, Mode::Safe];
const SOURCES: [Source; 6] = [
    Source::Fresh,
    Source::Coalesced,
    Source::Cached,
    Source::Lapsed,
    Source::Kf,
    Source::Parked,
];

fn msg_type_index(msg_type: &str) -> usize {
    MSG_TYPES[..MSG_TYPES.len() - 1]
        .iter()
        .position(|k| k.eq_ignore_ascii_case(msg_type))
        .unwrap_or(MSG_TYPES.len() - 1)
}

/// The metrics every push to one account records (labelled with the account's name), resolved
/// against the installed recorder once (on the first push) instead of looked up by name and
/// labels on every request.
#[derive(Debug)]
pub(crate) struct PushMetrics {
    account: String,
    handles: OnceLock<Handles>,
}

#[derive(Debug)]
struct Handles {
    pushes: Vec<Counter>,
    dedup: Vec<Counter>,
    handler_seconds: Vec<Histogram>,
}

impl Handles {
    fn resolve(account: &str) -> Self {
        let pushes = MODES
            .iter()
            .flat_map(|mode| {
                MSG_TYPES.iter().map(move |msg_type| {
                    metrics::counter!(PUSHES, "account" => account.to_owned(), "mode" => mode.as_str(), "msg_type" => *msg_type, "status" => "200")
                })
            })
            .collect();
        let dedup = SOURCES
            .iter()
            .map(|source| metrics::counter!(DEDUP, "account" => account.to_owned(), "source" => source.as_str()))
            .collect();
        let handler_seconds = SOURCES
            .iter()
            .map(|source| metrics::histogram!(HANDLER_SECONDS, "account" => account.to_owned(), "source" => source.as_str()))
            .collect();
        Self {
            pushes,
            dedup,
            handler_seconds,
        }
    }
}

impl PushMetrics {
    /// The metrics of the account called `account`.
    pub(crate) fn for_account(account: &str) -> Self {
        Self {
            account: account.to_owned(),
            handles: OnceLock::new(),
        }
    }

    fn handles(&self) -> &Handles {
        self.handles.get_or_init(|| Handles::resolve(&self.account))
    }

    /// One push answered with 200.
    pub(crate) fn answered(&self, mode: Mode, msg_type: &str) {
        self.handles().pushes[mode as usize * MSG_TYPES.len() + msg_type_index(msg_type)]
            .increment(1);
    }

    /// How an answer was obtained, and how long it took.
    pub(crate) fn handled(&self, source: Source, seconds: f64) {
        let handles = self.handles();
        handles.dedup[source as usize].increment(1);
        handles.handler_seconds[source as usize].record(seconds);
    }
}
