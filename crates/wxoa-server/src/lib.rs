//! The wxoa callback service: the HTTP edge a 公众号's 服务器配置 points at.
//!
//! # Layout
//! - [`config`]: the TOML config, env overrides and validation.
//! - [`push`]: reading a push and writing its answer (framework-free, shared with CGI).
//! - [`service`]: one request in, one response out (shared by `serve` and `cgi`).
//! - [`cgi`]: one request from the CGI environment.
//! - [`edge`]: the axum router; [`error`]: the edge's one error type.
//! - [`app`]: shared state and the handling of one push; [`dedup`]: retries coalesced.
//! - [`accounts`]: one [`App`] per account (`[[accounts]]`), found by callback path.
//! - [`rules`]: the declarative rules and their templates; [`reload`]: hot reload.
//! - [`metrics`]: Prometheus metrics and the admin listener (`/healthz`, `/readyz`).
//! - [`message_log`]: each answered push logged off the reply path (bounded queue, batches).
//! - [`admin`]: the owner's console on the admin listener (web page and `/api/v1`).
//! - [`backends`]: connecting the SQL store, Redis and the API client; [`delivery`]: late results.
//! - [`shared_work`]: slow work held under a lease another instance takes over when its
//!   holder dies.
//! - [`redis_fallback`]: serving through a Redis outage; [`readiness`]: what `/readyz` says.
//! - [`tls`]: HTTPS for `serve` with certificate reload.
//! - [`accept`]: the accept loop (connection cap, head limits and timeouts, graceful shutdown);
//!   [`linger`]: lingering close, so a refused client reads its answer.
//! - [`clock`]: the injectable clock.

pub mod accept;
pub mod access_line;
pub mod accounts;
pub mod actions;
pub mod admin;
pub mod app;
pub mod backends;
pub mod cgi;
pub mod clock;
pub mod codec;
pub mod config;
pub mod dedup;
pub mod delivery;
pub mod edge;
pub mod error;
mod head_deadline;
pub mod linger;
pub mod message_log;
pub mod metrics;
pub mod push;
pub mod readiness;
pub mod redis_fallback;
pub mod reload;
pub mod rules;
pub mod service;
pub mod shared_work;
pub mod tls;

pub use accounts::Accounts;
pub use app::App;
pub use config::Config;
use std::future::Future;

/// Serve the callback of one account (an `Arc<App>`) or several ([`Accounts`], each at its
/// own path) on `listener` until `shutdown` resolves, then finish the requests in flight.
/// Connections are limited as `[server]` says (see [`accept`]).
///
/// # Errors
/// The listener fails.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    accounts: impl Into<Accounts>,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    accept::serve_connections(listener, accounts.into(), None, shutdown).await
}
