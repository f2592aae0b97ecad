//! `GET /api/v1/audit`: the changes made through the console, newest first.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::Console;
use crate::admin::error::ApiError;
use crate::admin::extract::QueryParams;

const MAX_LIMIT: u32 = 500;

/// The query parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    limit: Option<u32>,
}

/// `GET /api/v1/audit?limit=50`.
pub(crate) async fn list(
    State(console): State<Arc<Console>>,
    QueryParams(p): QueryParams<Params>,
) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        ))
        .field("limit"));
    }
    let entries = console.store.audit().list(limit).await?;
    Ok(Json(json!({
        "entries": entries
            .iter()
            .map(|e| json!({
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
            }))
            .collect::<Vec<_>>(),
    })))
}
