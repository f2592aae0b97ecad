//! Logging in and out: `POST /api/v1/login`, `GET /api/v1/session`, `POST /api/v1/logout`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest as _, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::admin::Console;
use crate::admin::access::{peer_ip, set_cookie};
use crate::admin::auth::{self, Caller, PASSWORD_USER};
use crate::admin::error::ApiError;
use crate::admin::extract::JsonBody;

/// The body of a login.
#[derive(Debug, Deserialize)]
pub(crate) struct Login {
    password: String,
}

fn session_json(console: &Console, caller: &Caller) -> serde_json::Value {
    json!({
        "user": caller.user,
        "csrf": caller.csrf,
        "expires_at": caller.expires_at,
        "appid": console.appid(),
    })
}

/// `POST /api/v1/login`: checks the password (rate-limited per client address), starts a
/// session and sets its cookie.
pub(crate) async fn login(State(console): State<Arc<Console>>, req: Request) -> Response {
    match login_inner(&console, req).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn login_inner(console: &Arc<Console>, req: Request) -> Result<Response, ApiError> {
    let peer = peer_ip(req.extensions());
    let headers = req.headers().clone();
    let ip = console.client_ip(peer, &headers);
    let now = console.now();
    if let Err(wait) = console.login_limit.check(ip, now) {
        tracing::warn!(%ip, "console: login refused, too many failures");
        return Err(ApiError::too_many_logins(wait));
    }
    let JsonBody(body) = JsonBody::<Login>::from_request(req, &()).await?;
    let Some(hash) = console.admin.password_hash.clone() else {
        return Err(ApiError::unauthorized(
            "password login is off (no admin.password_hash); log in through the SSO proxy",
        ));
    };
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    if !ok {
        console.login_limit.failed(ip, now);
        tracing::warn!(%ip, "console: wrong password");
        return Err(ApiError::unauthorized("wrong password").field("password"));
    }
    console.login_limit.succeeded(ip);
    let (token, caller) = console
        .sessions
        .create(PASSWORD_USER, now, console.admin.session_hours);
    tracing::info!(%ip, "console: logged in");
    let mut response = Json(session_json(console, &caller)).into_response();
    set_cookie(
        &mut response,
        &auth::session_cookie(
            &token,
            caller.expires_at - now,
            console.over_https(peer, &headers),
        ),
    );
    Ok(response)
}

/// `GET /api/v1/session`: the caller's session (401 when not logged in).
pub(crate) async fn current(State(console): State<Arc<Console>>, req: Request) -> Response {
    let peer = peer_ip(req.extensions());
    match console.identify(peer, req.headers()) {
        Some((caller, cookie)) => {
            let mut response = Json(session_json(&console, &caller)).into_response();
            if let Some(cookie) = cookie {
                set_cookie(&mut response, &cookie);
            }
            response
        }
        None => ApiError::unauthorized("not logged in").into_response(),
    }
}

/// `POST /api/v1/logout`: ends the session and clears the cookie.
pub(crate) async fn logout(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    for token in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(auth::cookie_token)
    {
        console.sessions.remove(token);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &auth::session_cookie("", 0, false));
    response
}
