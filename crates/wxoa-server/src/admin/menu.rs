//! The custom menu: read from the platform, checked against the platform's limits, pushed,
//! deleted (the limits and calls are `wxoa_api::menu`'s).

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use wxoa_api::menu::{Menu, MenuIssue};

use crate::admin::error::ApiError;
use crate::admin::extract::JsonBody;
use crate::admin::{Caller, Console};

/// The platform's "no menu" answer of `menu/get`.
const NO_MENU: i64 = 46003;

/// A body carrying a menu.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MenuBody {
    menu: Value,
}

/// The menu in `body`, or 400 when it does not have a menu's shape.
fn parse(body: MenuBody) -> Result<Menu, ApiError> {
    serde_json::from_value(body.menu)
        .map_err(|e| ApiError::bad_request(format!("not a menu: {e}")).field("menu"))
}

fn issues_json(issues: &[MenuIssue]) -> Value {
    issues
        .iter()
        .map(|i| json!({"path": i.path, "name": i.name, "message": i.message}))
        .collect()
}

/// `GET /api/v1/menu`: the default menu as the platform has it (`null` when none is set).
pub(crate) async fn get_menu(State(console): State<Arc<Console>>) -> Result<Json<Value>, ApiError> {
    match console.api()?.menu_get().await {
        Ok(info) => Ok(Json(json!({ "menu": info.menu }))),
        Err(e) if e.code() == Some(NO_MENU) => Ok(Json(json!({ "menu": null }))),
        Err(e) => Err(ApiError::platform("reading the menu", &e)),
    }
}

/// `POST /api/v1/menu/validate`: the platform's limits, every problem with its path.
pub(crate) async fn validate(JsonBody(body): JsonBody<MenuBody>) -> Result<Json<Value>, ApiError> {
    let menu = parse(body)?;
    Ok(Json(match menu.validate() {
        Ok(()) => json!({ "ok": true }),
        Err(e) => json!({ "ok": false, "issues": issues_json(&e.issues) }),
    }))
}

/// `PUT /api/v1/menu`: validated (422 with `issues`), then pushed.
pub(crate) async fn push(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<MenuBody>,
) -> Result<Json<Value>, ApiError> {
    let menu = parse(body)?;
    if let Err(e) = menu.validate() {
        return Err(ApiError::invalid("menu", e.to_string()).with("issues", issues_json(&e.issues)));
    }
    let api = console.api()?;
    let detail = serde_json::to_string(&menu).unwrap_or_default();
    api.menu_create(&menu)
        .await
        .map_err(|e| ApiError::platform("pushing the menu", &e))?;
    console.audit(&caller, "menu.push", "menu", &detail).await;
    Ok(Json(json!({ "ok": true })))
}

/// `DELETE /api/v1/menu`: removes the menu (and the conditional ones).
pub(crate) async fn delete(
    State(console): State<Arc<Console>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    console
        .api()?
        .menu_delete()
        .await
        .map_err(|e| ApiError::platform("deleting the menu", &e))?;
    console.audit(&caller, "menu.delete", "menu", "").await;
    Ok(Json(json!({ "ok": true })))
}
