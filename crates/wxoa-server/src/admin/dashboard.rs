//! `GET /api/v1/dashboard`: pushes per minute, answers by rule, latency against the 5-second
//! budget, outcomes, followers, the access token, recent errors and the log writer.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::admin::Console;
use crate::admin::error::ApiError;
use crate::admin::log_stats::LogWriterSnapshot;

/// The platform's budget for a passive reply.
const BUDGET_MS: u64 = 5000;
/// The platform's daily access_token fetch limit.
const DAILY_TOKEN_LIMIT: u64 = 2000;
const DAY_SECS: i64 = 86_400;
const HOUR_SECS: i64 = 3600;

/// `GET /api/v1/dashboard`.
pub(crate) async fn dashboard(
    State(console): State<Arc<Console>>,
) -> Result<Json<Value>, ApiError> {
    let now = console.now();
    let since = now - DAY_SECS;
    let d = console.store.dashboard();
    let per_minute = d.pushes_per_minute(now, 60).await?;
    let by_rule = d.answers_by_rule(since).await?;
    let latency = d.latency(since, BUDGET_MS).await?;
    let outcomes = d.outcomes(since).await?;
    let followers = console.store.followers();
    let subscribed = followers.count_followers(console.appid(), true).await?;
    let unsubscribed = followers.count_followers(console.appid(), false).await?;
    let token = token_state(&console, now).await?;
    let log = console
        .log_stats
        .as_ref()
        .map_or_else(LogWriterSnapshot::default, |s| s.snapshot());
    Ok(Json(json!({
        "now": now,
        "appid": console.appid(),
        "pushes_per_minute": per_minute
            .iter()
            .map(|m| json!({"minute": m.minute, "count": m.count}))
            .collect::<Vec<_>>(),
        "answers_by_rule": by_rule
            .iter()
            .map(|g| json!({"rule": g.key, "count": g.count}))
            .collect::<Vec<_>>(),
        "latency_ms": {
            "count": latency.count,
            "p50": latency.p50,
            "p90": latency.p90,
            "p99": latency.p99,
            "max": latency.max,
            "budget_ms": BUDGET_MS,
            "over_budget": latency.over_budget,
        },
        "outcomes": outcomes
            .iter()
            .map(|g| json!({"source": g.key, "count": g.count}))
            .collect::<Vec<_>>(),
        "followers": {"subscribed": subscribed, "unsubscribed": unsubscribed},
        "token": token,
        "errors": console.recent_errors.since(now - HOUR_SECS),
        "log": log,
    })))
}

/// The access token as the token store has it (never fetched by looking), and today's
/// fetches (Beijing day) as its counter has them (`null` when the store cannot tell).
async fn token_state(console: &Console, now: i64) -> Result<Value, ApiError> {
    let Some(api) = &console.api else {
        return Ok(json!({
            "state": "no_secret",
            "expires_in_secs": null,
            "fetches_today": 0,
            "daily_limit": DAILY_TOKEN_LIMIT,
        }));
    };
    let key = api.access_token_key();
    let stored = api
        .token_store()
        .get(key)
        .await
        .map_err(|e| ApiError::internal("reading the access token", &e))?;
    let (state, expires_in) = match stored {
        None => ("none", None),
        Some(t) if t.is_valid_at(now) => ("valid", Some(t.remaining_secs(now))),
        Some(_) => ("expired", Some(0)),
    };
    let fetches = api
        .token_store()
        .fetch_count(key, &wxoa_api::beijing_date(now))
        .await
        .map_err(|e| ApiError::internal("reading the token fetch counter", &e))?;
    Ok(json!({
        "state": state,
        "expires_in_secs": expires_in,
        "fetches_today": fetches,
        "daily_limit": DAILY_TOKEN_LIMIT,
    }))
}
