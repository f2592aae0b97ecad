//! Who gets in: sessions (cookie or SSO header from a trusted proxy) for the API, the CSRF
//! token on every change, and the rule that `/healthz`, `/readyz` and `/metrics` are open on
//! loopback only (elsewhere a session or HTTP Basic with the admin password).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::admin::Console;
use crate::admin::auth::{self, CSRF_HEADER, Caller};
use crate::admin::error::ApiError;

/// The address of the peer that sent the request (unspecified when the listener did not
/// record it: then nothing counts as loopback or as a trusted proxy).
pub(crate) fn peer_ip(req_extensions: &axum::http::Extensions) -> IpAddr {
    req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        })
}

impl Console {
    /// Whether `peer` is one of `admin.sso_trusted_proxies`.
    fn trusted_proxy(&self, peer: IpAddr) -> bool {
        self.admin
            .sso_trusted_proxies
            .iter()
            .any(|p| *p == canonical(peer))
    }

    /// The client's address for the login rate limit: the peer, or behind a trusted proxy
    /// the last address of its `X-Forwarded-For`.
    pub(crate) fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.trusted_proxy(peer)
            && let Some(forwarded) = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return forwarded;
        }
        canonical(peer)
    }

    /// Whether the browser reached the console over HTTPS (a trusted proxy says so), so the
    /// cookie gets `Secure`.
    pub(crate) fn over_https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.trusted_proxy(peer)
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }

    /// The caller of a live session cookie in `headers`.
    fn session_caller(&self, headers: &HeaderMap, now: i64) -> Option<Caller> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(auth::cookie_token)
            .and_then(|token| self.sessions.get(token, now))
    }

    /// The user named by `admin.sso_header`, when a trusted proxy sent the request.
    fn sso_user<'h>(&self, peer: IpAddr, headers: &'h HeaderMap) -> Option<&'h str> {
        self.admin
            .sso_header
            .as_ref()
            .filter(|_| self.trusted_proxy(peer))
            .and_then(|name| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// Whether the request comes from someone logged in (a session or the SSO proxy),
    /// without starting a session.
    pub(crate) fn admits(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.sso_user(peer, headers).is_some() || self.session_caller(headers, self.now()).is_some()
    }

    /// The caller of a request: its session cookie, or the SSO header set by a trusted proxy
    /// (which starts a session; its cookie is returned to be set).
    pub(crate) fn identify(
        &self,
        peer: IpAddr,
        headers: &HeaderMap,
    ) -> Option<(Caller, Option<String>)> {
        let now = self.now();
        let from_cookie = self.session_caller(headers, now);
        match (from_cookie, self.sso_user(peer, headers)) {
            (Some(caller), None) => Some((caller, None)),
            (Some(caller), Some(user)) if caller.user == user => Some((caller, None)),
            (_, Some(user)) => {
                let (token, caller) =
                    self.sessions
                        .reuse_or_create(user, now, self.admin.session_hours);
                tracing::info!(user, "console: signed in by the SSO proxy");
                let cookie = auth::session_cookie(
                    &token,
                    caller.expires_at - now,
                    self.over_https(peer, headers),
                );
                Some((caller, Some(cookie)))
            }
            (None, None) => None,
        }
    }
}

/// `::ffff:127.0.0.1` as `127.0.0.1`, so IPv4 peers on a dual-stack listener compare equal.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Adds `Set-Cookie: cookie` to `response`.
pub(crate) fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The middleware of every `/api/v1` route but login and session: a session is needed (401),
/// and `POST`, `PUT` and `DELETE` need its CSRF token in `X-CSRF-Token` (403). The caller is
/// handed to the route as an extension.
pub(crate) async fn require_session(
    State(console): State<Arc<Console>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = peer_ip(req.extensions());
    let Some((caller, new_cookie)) = console.identify(peer, req.headers()) else {
        return ApiError::unauthorized("not logged in").into_response();
    };
    let changes = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH
    );
    if changes {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !auth::same_secret(sent, &caller.csrf) {
            tracing::warn!(user = %caller.user, path = %req.uri().path(), "console: change refused without the CSRF token");
            let mut response = ApiError::forbidden(
                "missing or wrong X-CSRF-Token (GET /api/v1/session gives the session's token)",
            )
            .into_response();
            if let Some(cookie) = &new_cookie {
                set_cookie(&mut response, cookie);
            }
            return response;
        }
    }
    req.extensions_mut().insert(caller);
    let mut response = next.run(req).await;
    if let Some(cookie) = &new_cookie {
        set_cookie(&mut response, cookie);
    }
    response
}

/// The middleware of `/healthz`, `/readyz` and `/metrics` while the console is on: open to
/// loopback peers; others need a session cookie or HTTP Basic with the admin password (any
/// user name), else 401 with a Basic challenge.
pub async fn guard_operations(
    State(console): State<Arc<Console>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = peer_ip(req.extensions());
    if canonical(peer).is_loopback() || console.admits(peer, req.headers()) {
        return next.run(req).await;
    }
    if let Some(password) = basic_password(req.headers())
        && let Some(hash) = console.admin.password_hash.clone()
    {
        let ip = console.client_ip(peer, req.headers());
        let now = console.now();
        if let Err(wait) = console.login_limit.check(ip, now) {
            return ApiError::too_many_logins(wait).into_response();
        }
        let ok = tokio::task::spawn_blocking(move || auth::verify_password(&hash, &password))
            .await
            .unwrap_or(false);
        if ok {
            return next.run(req).await;
        }
        console.login_limit.failed(ip, now);
        tracing::warn!(%ip, path = %req.uri().path(), "console: wrong password in HTTP Basic");
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"wxoa\", charset=\"UTF-8\"")],
        "open on loopback only; elsewhere log in to the console or use HTTP Basic with the admin password\n",
    )
        .into_response()
}

/// The password of an `Authorization: Basic` header.
fn basic_password(headers: &HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
}

/// Any other path: a JSON 404 under `/api/`, a short text elsewhere.
pub(crate) async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::not_found(format!(
            "no such API: {} {}",
            req.method(),
            req.uri().path()
        ))
        .into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found; the console is at /\n").into_response()
    }
}
