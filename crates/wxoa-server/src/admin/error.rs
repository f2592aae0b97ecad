//! The console API's one error type: a status and a JSON body `{"error", "field"}` (plus
//! `errcode`, `issues` or `retry_after_secs` where they apply).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// An error answered by the console API.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
    extra: Map<String, Value>,
    retry_after: Option<i64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
            extra: Map::new(),
            retry_after: None,
        }
    }

    /// 400: the request itself is malformed.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: not logged in, or a wrong password.
    #[must_use]
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: a change without the session's CSRF token.
    #[must_use]
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404: no such thing.
    #[must_use]
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: a job of this kind is already running.
    #[must_use]
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 422: the value does not validate; `field` names the request field it concerns.
    #[must_use]
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message).field(field)
    }

    /// 429: too many failed logins; try again in `retry_after` seconds.
    #[must_use]
    pub fn too_many_logins(retry_after: i64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed logins; try again in {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e.extra
            .insert("retry_after_secs".to_owned(), Value::from(retry_after));
        e
    }

    /// 503: the platform's API cannot be called without `account.secret`.
    #[must_use]
    pub fn no_secret() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "account.secret (the AppSecret) is not configured: the platform's API cannot be called",
        )
    }

    /// 500: something failed on our side; logged here, never shown in detail to the caller.
    #[must_use]
    pub fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "console: {what} failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{what} failed; the server log has the details"),
        )
    }

    /// The error of a platform API call: 422 for a value the client refused before calling,
    /// 502 with the platform's `errcode` (and its hint) when the platform refused, 502 when it
    /// could not be reached.
    #[must_use]
    pub fn platform(what: &str, error: &wxoa_api::ApiError) -> Self {
        if let wxoa_api::ApiError::Validation(message) = error {
            return Self::new(StatusCode::UNPROCESSABLE_ENTITY, message.clone());
        }
        tracing::warn!(error = %error, "console: {what}: the platform refused");
        let mut e = Self::new(StatusCode::BAD_GATEWAY, format!("{what}: {error}"));
        if let Some(code) = error.code() {
            e.extra.insert("errcode".to_owned(), Value::from(code));
        }
        if let Some(hint) = error.hint_zh() {
            e.extra.insert("hint".to_owned(), Value::from(hint));
        }
        e
    }

    /// Names the request field the error concerns.
    #[must_use]
    pub fn field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    /// Adds a member to the JSON body (e.g. `issues`).
    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// The status answered.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message answered.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl From<wxoa_api::StoreError> for ApiError {
    fn from(e: wxoa_api::StoreError) -> Self {
        Self::internal("reading or writing the store", &e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Failures on our side were logged where they happened; the caller's mistakes get one
        // line here, below the error level.
        if self.status.is_client_error() {
            tracing::info!(status = self.status.as_u16(), error = %self.message, field = ?self.field, "console: request refused");
        }
        let mut body = Map::new();
        body.insert("error".to_owned(), Value::from(self.message));
        if let Some(field) = self.field {
            body.insert("field".to_owned(), Value::from(field));
        }
        body.extend(self.extra);
        let mut response = (self.status, axum::Json(Value::Object(body))).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
