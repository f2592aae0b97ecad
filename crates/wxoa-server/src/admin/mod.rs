//! The owner's console on the admin listener: the embedded web page and the JSON API under
//! `/api/v1` (docs/admin-api.md), with its logins, CSRF tokens and audit trail.
//!
//! # Layout
//! - [`auth`]: password hashes, sessions, the cookie; [`login_limit`]: the login rate limit;
//!   `access`: the middleware that admits callers (session, SSO, CSRF, the loopback rule of
//!   `/metrics`); `session`: login, session and logout.
//! - [`error`]: the one JSON error type; `extract`: extractors answering it.
//! - `assets`: the embedded page, script and style.
//! - `dashboard`, `messages`, `followers`, `rules`, `menu`, `audit`: the routes, one area
//!   each; [`refresh`]: reading the platform's follower list in the background;
//!   [`rule_file`]: editing `[[rules]]` in the config file, keeping the rest of it.
//! - [`recent_errors`]: the tracing layer behind the dashboard's error list;
//!   [`log_stats`]: what the dashboard shows of the message-log writer.

mod access;
mod assets;
mod audit;
pub mod auth;
mod dashboard;
pub mod error;
mod extract;
mod followers;
pub mod log_stats;
pub mod login_limit;
mod menu;
mod messages;
pub mod recent_errors;
pub mod refresh;
pub mod rule_file;
mod rules;
mod session;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use wxoa_store::Store;

pub use self::access::guard_operations;
pub use self::auth::Caller;
pub use self::error::ApiError;
pub use self::log_stats::{LogWriterSnapshot, LogWriterStats};
pub use self::recent_errors::{LoggedError, RecentErrors, RecentErrorsLayer};

use crate::App;
use crate::config::AdminConfig;

/// What the console is built from.
#[derive(Debug)]
pub struct ConsoleSetup {
    /// The running service (rules in force, the clock, the account).
    pub app: Arc<App>,
    /// The config file: rules are edited there and reloaded from it.
    pub config_path: PathBuf,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// The SQL store (message log, followers, audit).
    pub store: Store,
    /// The platform API client, `None` without an AppSecret.
    pub api: Option<wxoa_api::Client>,
    /// Where the logged warnings and errors are kept.
    pub recent_errors: RecentErrors,
    /// The message-log writer's counters, once a writer runs.
    pub log_stats: Option<Arc<dyn LogWriterStats>>,
}

/// The console's shared state.
#[derive(Debug)]
pub struct Console {
    app: Arc<App>,
    config_path: PathBuf,
    admin: AdminConfig,
    store: Store,
    api: Option<wxoa_api::Client>,
    recent_errors: RecentErrors,
    log_stats: Option<Arc<dyn LogWriterStats>>,
    sessions: auth::Sessions,
    login_limit: login_limit::LoginLimiter,
    refresh: refresh::RefreshJob,
    /// One rule edit at a time: each reads, changes and writes the whole file.
    rule_edits: tokio::sync::Mutex<()>,
}

impl Console {
    /// The console of `setup`.
    #[must_use]
    pub fn new(setup: ConsoleSetup) -> Arc<Self> {
        Arc::new(Self {
            app: setup.app,
            config_path: setup.config_path,
            admin: setup.admin,
            store: setup.store,
            api: setup.api,
            recent_errors: setup.recent_errors,
            log_stats: setup.log_stats,
            sessions: auth::Sessions::default(),
            login_limit: login_limit::LoginLimiter::default(),
            refresh: refresh::RefreshJob::default(),
            rule_edits: tokio::sync::Mutex::new(()),
        })
    }

    /// The console of a `serve` process when `[admin]` turns it on (`None` otherwise): the
    /// config file's rules and `[admin]`, the process's error buffer, no log writer counters
    /// (set [`ConsoleSetup::log_stats`] through [`Console::new`] to show them).
    #[must_use]
    pub fn for_config(
        config: &crate::Config,
        app: Arc<App>,
        store: Store,
        api: Option<wxoa_api::Client>,
        log_stats: Option<Arc<dyn LogWriterStats>>,
    ) -> Option<Arc<Self>> {
        if !config.admin.enabled() {
            return None;
        }
        if !config.server.admin_listen.ip().is_loopback() {
            tracing::warn!(
                admin_listen = %config.server.admin_listen,
                "the console listens beyond loopback over plain HTTP: a password typed there \
                 crosses the network in clear; prefer an SSH tunnel or an HTTPS reverse proxy"
            );
        }
        Some(Self::new(ConsoleSetup {
            app,
            config_path: config.source.clone(),
            admin: config.admin.clone(),
            store,
            api,
            recent_errors: RecentErrors::process().clone(),
            log_stats,
        }))
    }

    /// Now, in Unix seconds (the service's clock).
    fn now(&self) -> i64 {
        self.app.now()
    }

    /// The configured account's AppID.
    fn appid(&self) -> &str {
        &self.app.account().appid
    }

    /// The API client, or 503 without an AppSecret.
    fn api(&self) -> Result<&wxoa_api::Client, ApiError> {
        self.api.as_ref().ok_or_else(ApiError::no_secret)
    }

    /// Records a change in the audit trail; a failure is logged, never undoes the change.
    async fn audit(&self, caller: &Caller, action: &str, target: &str, detail: &str) {
        let entry = wxoa_store::AuditEntry {
            id: 0,
            at: self.now(),
            actor: caller.user.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        if let Err(e) = self.store.audit().record(&entry).await {
            tracing::error!(error = %e, action, target, "console: the audit entry was not recorded");
        }
    }
}

/// The console's routes: the page and its assets, and `/api/v1`. Everything but the page,
/// login and session needs a session; changes need its CSRF token.
pub fn router(console: Arc<Console>) -> Router {
    let open = Router::new()
        .route("/", get(assets::index))
        .route("/assets/app.js", get(assets::script))
        .route("/assets/app.css", get(assets::style))
        .route("/api/v1/login", post(session::login))
        .route("/api/v1/session", get(session::current));
    let guarded = Router::new()
        .route("/api/v1/logout", post(session::logout))
        .route("/api/v1/dashboard", get(dashboard::dashboard))
        .route("/api/v1/messages", get(messages::search))
        .route("/api/v1/followers", get(followers::list))
        .route(
            "/api/v1/followers/refresh",
            get(followers::refresh_status).post(followers::start_refresh),
        )
        .route(
            "/api/v1/followers/{openid}",
            get(followers::detail).put(followers::update),
        )
        .route("/api/v1/followers/{openid}/send", post(followers::send))
        .route("/api/v1/rules", get(rules::list).post(rules::insert))
        .route("/api/v1/rules/test", post(rules::test))
        .route(
            "/api/v1/rules/{index}",
            put(rules::update).delete(rules::delete),
        )
        .route("/api/v1/rules/{index}/move", post(rules::move_rule))
        .route(
            "/api/v1/menu",
            get(menu::get_menu).put(menu::push).delete(menu::delete),
        )
        .route("/api/v1/menu/validate", post(menu::validate))
        .route("/api/v1/audit", get(audit::list))
        .route_layer(from_fn_with_state(
            Arc::clone(&console),
            access::require_session,
        ));
    open.merge(guarded)
        .fallback(access::not_found)
        .with_state(console)
}
