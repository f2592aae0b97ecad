//! Rules: the list from the config file, "try it" (exactly `wxoa rules test`), and edits that
//! are validated as a reload validates, written back atomically and reloaded.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::error::ApiError;
use crate::admin::extract::{JsonBody, PathParams};
use crate::admin::rule_file::{self, RuleEdit, RuleFileError};
use crate::admin::{Caller, Console};
use crate::config::Config;
use crate::rules::trial::{TrialInput, describe, try_rules};

impl From<RuleFileError> for ApiError {
    fn from(e: RuleFileError) -> Self {
        match e {
            RuleFileError::NoSuchRule { .. } => Self::not_found(e.to_string()),
            RuleFileError::Rule(message) => Self::invalid("toml", message),
            other => Self::invalid("toml", other.to_string()),
        }
    }
}

/// The rules of the config file, as `GET /api/v1/rules` answers them.
async fn rules_json(console: &Console) -> Result<Value, ApiError> {
    let text = tokio::fs::read_to_string(&console.config_path)
        .await
        .map_err(|e| ApiError::internal("reading the config file", &e))?;
    let rules = rule_file::list_rules(&text)?;
    Ok(json!({
        "source": console.config_path.display().to_string(),
        "rules": rules
            .iter()
            .map(|r| json!({
                "index": r.index,
                "name": r.name,
                "matchers": r.matchers,
                "reply_kind": r.reply_kind,
                "toml": r.toml,
            }))
            .collect::<Vec<_>>(),
    }))
}

/// `GET /api/v1/rules`.
pub(crate) async fn list(State(console): State<Arc<Console>>) -> Result<Json<Value>, ApiError> {
    rules_json(&console).await.map(Json)
}

/// The body of "try it": a text, an event (with its key) or a message type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestBody {
    text: Option<String>,
    event: Option<String>,
    key: Option<String>,
    msg_type: Option<String>,
}

/// `POST /api/v1/rules/test`: which rule answers and what, against the rules in force.
pub(crate) async fn test(
    State(console): State<Arc<Console>>,
    JsonBody(body): JsonBody<TestBody>,
) -> Result<Json<Value>, ApiError> {
    let input = match (body.text, body.event, body.msg_type) {
        (_, Some(event), _) if !event.trim().is_empty() => TrialInput::Event {
            event: event.trim().to_owned(),
            key: body.key.filter(|k| !k.is_empty()),
        },
        (_, _, Some(msg_type)) if !msg_type.trim().is_empty() => {
            TrialInput::MsgType(msg_type.trim().to_owned())
        }
        (Some(text), _, _) => TrialInput::Text(text),
        _ => return Err(ApiError::bad_request("give a text, an event or a msg_type")),
    };
    let now = console.now();
    let trial = try_rules(&console.app.rules(), &input, now)
        .await
        .map_err(|e| ApiError::invalid("rules", e.to_string()))?;
    Ok(Json(json!({
        "matched": trial.rule.is_some(),
        "rule": trial.rule,
        "reply": trial.reply.as_ref().map(|r| json!({"kind": r.msg_type(), "text": describe(r)})),
        "xml": trial.xml(now),
        "notes": trial.notes,
    })))
}

/// The body of a replacement or an insertion.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleBody {
    toml: String,
    index: Option<usize>,
}

/// The body of a move.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveBody {
    to: usize,
}

/// `PUT /api/v1/rules/{index}`.
pub(crate) async fn update(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
    PathParams(index): PathParams<usize>,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<Json<Value>, ApiError> {
    let detail = body.toml.clone();
    let edit = RuleEdit::Replace {
        index,
        toml: body.toml,
    };
    edit_rules(&console, &caller, edit, "rule.update", detail).await
}

/// `POST /api/v1/rules`.
pub(crate) async fn insert(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<Json<Value>, ApiError> {
    let detail = body.toml.clone();
    let edit = RuleEdit::Insert {
        index: body.index,
        toml: body.toml,
    };
    edit_rules(&console, &caller, edit, "rule.insert", detail).await
}

/// `DELETE /api/v1/rules/{index}`.
pub(crate) async fn delete(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
    PathParams(index): PathParams<usize>,
) -> Result<Json<Value>, ApiError> {
    let detail = format!("deleted rule {index}");
    edit_rules(
        &console,
        &caller,
        RuleEdit::Delete { index },
        "rule.delete",
        detail,
    )
    .await
}

/// `POST /api/v1/rules/{index}/move`.
pub(crate) async fn move_rule(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
    PathParams(from): PathParams<usize>,
    JsonBody(body): JsonBody<MoveBody>,
) -> Result<Json<Value>, ApiError> {
    let detail = format!("moved from {from} to {}", body.to);
    let edit = RuleEdit::Move { from, to: body.to };
    edit_rules(&console, &caller, edit, "rule.move", detail).await
}

/// Applies `edit` to the config file: the new text is validated exactly as a reload would
/// (422 with the loader's message, nothing written), written atomically, reloaded, audited.
async fn edit_rules(
    console: &Arc<Console>,
    caller: &Caller,
    edit: RuleEdit,
    action: &str,
    detail: String,
) -> Result<Json<Value>, ApiError> {
    let _one_at_a_time = console.rule_edits.lock().await;
    let path = console.config_path.clone();
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| ApiError::internal("reading the config file", &e))?;
    let (new_text, name) = rule_file::apply(&text, &edit)?;
    let app = Arc::clone(&console.app);
    let outcome = tokio::task::spawn_blocking(move || -> Result<usize, ApiError> {
        // The same loading a reload does (environment overrides included), before writing.
        Config::from_text(&new_text, &path)
            .map_err(|e| ApiError::invalid("toml", e.to_string()))?;
        rule_file::write_atomically(&path, &new_text)
            .map_err(|e| ApiError::internal("writing the config file", &e))?;
        crate::reload::reload_rules(&app, &path)
            .map_err(|e| ApiError::internal("reloading the rules", &e))
    })
    .await
    .map_err(|e| ApiError::internal("editing the rules", &e))?;
    match outcome {
        Ok(count) => {
            tracing::info!(user = %caller.user, action, rule = %name, rules = count, "console: rules edited and reloaded");
            console.audit(caller, action, &name, &detail).await;
            rules_json(console).await.map(Json)
        }
        Err(e) => {
            if e.status() == axum::http::StatusCode::UNPROCESSABLE_ENTITY {
                tracing::info!(user = %caller.user, action, rule = %name, error = %e.message(), "console: rule edit refused");
            }
            Err(e)
        }
    }
}
