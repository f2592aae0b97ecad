//! The OpenAI chat-completions client: one streaming (SSE) request per question, the deltas
//! fed to the push's [`PartialOutput`] as they arrive, and the provider's errors told apart
//! (401, 429 with `retry-after`, 5xx, timeouts, a stream cut before its end).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use super::partial::PartialOutput;
use super::profile::ChatProfile;
use super::sse::SseParser;
use crate::actions::http::error_chain;

/// Largest error body read from a provider (for the log).
const MAX_ERROR_BODY: usize = 4096;

/// What the model answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The answer (Markdown, as the model wrote it).
    pub text: String,
    /// Prompt tokens, when the provider reported usage.
    pub prompt_tokens: Option<u64>,
    /// Answer tokens, when the provider reported usage.
    pub completion_tokens: Option<u64>,
}

/// Why the model gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// 401/403: the API key is missing, wrong or without access to the model.
    #[error("the provider refused the API key (HTTP {status}): {message}")]
    Unauthorized {
        /// The status.
        status: u16,
        /// The provider's explanation.
        message: String,
    },
    /// 429: too many requests or no quota left.
    #[error("the provider is rate limiting (HTTP 429{}): {message}", retry_after.map(|s| format!(", retry after {s} s")).unwrap_or_default())]
    RateLimited {
        /// Seconds the provider asked to wait.
        retry_after: Option<u64>,
        /// The provider's explanation.
        message: String,
    },
    /// Any other status (400 for a wrong model name, 5xx, …).
    #[error("the provider answered HTTP {status}: {message}")]
    Status {
        /// The status.
        status: u16,
        /// The provider's explanation.
        message: String,
    },
    /// No complete answer within the profile's `timeout_ms`.
    #[error("no complete answer within {timeout_ms} ms")]
    Timeout {
        /// The profile's timeout.
        timeout_ms: u64,
    },
    /// The provider could not be reached (DNS, connection refused, TLS, …).
    #[error("the provider could not be reached: {0}")]
    Transport(String),
    /// The stream ended before the answer was finished.
    #[error("the stream was cut after {received_chars} characters")]
    Cut {
        /// Characters received before the cut.
        received_chars: usize,
    },
    /// The stream carried something that is not a chat-completions chunk.
    #[error("the provider sent an unreadable chunk: {0}")]
    BadStream(String),
    /// The model finished without saying anything.
    #[error("the model answered nothing")]
    Empty,
}

impl ChatError {
    /// The `outcome` label of `wxoa_chat_requests_total`.
    #[must_use]
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::RateLimited { .. } => "rate_limited",
            Self::Status { status, .. } if *status >= 500 => "server_error",
            Self::Status { .. } => "bad_request",
            Self::Timeout { .. } => "timeout",
            Self::Transport(_) => "transport",
            Self::Cut { .. } => "cut",
            Self::BadStream(_) => "bad_stream",
            Self::Empty => "empty",
        }
    }
}

/// The request body for `messages` under `profile`.
#[must_use]
pub fn request_body(profile: &ChatProfile, messages: Vec<Value>) -> Value {
    let mut body = json!({
        "model": profile.model,
        "messages": messages,
        "stream": true,
        "stream_options": { "include_usage": true },
    });
    if let Some(n) = profile.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if let Some(t) = profile.temperature {
        body["temperature"] = json!(t);
    }
    body
}

/// Ask the model once (never retried: a retry could answer twice) and stream its answer into
/// `partial`.
///
/// # Errors
/// A [`ChatError`] saying what went wrong.
pub async fn complete(
    http: &reqwest::Client,
    profile: &ChatProfile,
    messages: Vec<Value>,
    partial: &PartialOutput,
) -> Result<Completion, ChatError> {
    let timeout_ms = u64::try_from(profile.timeout.as_millis()).unwrap_or(u64::MAX);
    tokio::time::timeout(profile.timeout, exchange(http, profile, messages, partial))
        .await
        .map_err(|_| ChatError::Timeout { timeout_ms })?
}

async fn exchange(
    http: &reqwest::Client,
    profile: &ChatProfile,
    messages: Vec<Value>,
    partial: &PartialOutput,
) -> Result<Completion, ChatError> {
    let mut request = http
        .post(profile.endpoint.clone())
        .header(CONTENT_TYPE, "application/json")
        .json(&request_body(profile, messages));
    if let Some(key) = &profile.api_key {
        request = request.header(AUTHORIZATION, format!("Bearer {}", key.expose_secret()));
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| ChatError::Transport(error_chain(&e)))?;
    let status = response.status();
    if status != StatusCode::OK {
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let message = error_message(response).await;
        return Err(match status.as_u16() {
            401 | 403 => ChatError::Unauthorized {
                status: status.as_u16(),
                message,
            },
            429 => ChatError::RateLimited {
                retry_after,
                message,
            },
            other => ChatError::Status {
                status: other,
                message,
            },
        });
    }
    let streaming = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !streaming {
        // Some servers ignore `stream`: take the whole answer.
        let body = response
            .bytes()
            .await
            .map_err(|e| ChatError::Transport(error_chain(&e)))?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| ChatError::BadStream(e.to_string()))?;
        let text = value["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        partial.push(&text);
        return finished(Completion {
            text,
            prompt_tokens: value["usage"]["prompt_tokens"].as_u64(),
            completion_tokens: value["usage"]["completion_tokens"].as_u64(),
        });
    }
    let mut parser = SseParser::default();
    let mut completion = Completion::default();
    let mut done = false;
    let mut finish_reason = false;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "chat stream broke");
                return Err(ChatError::Cut {
                    received_chars: completion.text.chars().count(),
                });
            }
        };
        for data in parser.feed(&chunk) {
            done |= apply(&data, &mut completion, &mut finish_reason, partial)?;
        }
        if done {
            break;
        }
    }
    if !done && let Some(data) = parser.finish() {
        done |= apply(&data, &mut completion, &mut finish_reason, partial)?;
    }
    if !done && !finish_reason {
        return Err(ChatError::Cut {
            received_chars: completion.text.chars().count(),
        });
    }
    finished(completion)
}

fn finished(completion: Completion) -> Result<Completion, ChatError> {
    if completion.text.trim().is_empty() {
        Err(ChatError::Empty)
    } else {
        Ok(completion)
    }
}

/// Apply one event; `true` at `[DONE]`.
fn apply(
    data: &str,
    completion: &mut Completion,
    finish_reason: &mut bool,
    partial: &PartialOutput,
) -> Result<bool, ChatError> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(true);
    }
    let value: Value = serde_json::from_str(data).map_err(|e| {
        ChatError::BadStream(format!(
            "{e} in {:?}",
            data.chars().take(120).collect::<String>()
        ))
    })?;
    if let Some(error) = value.get("error") {
        return Err(ChatError::Status {
            status: 500,
            message: error["message"]
                .as_str()
                .map_or_else(|| error.to_string(), str::to_owned),
        });
    }
    if let Some(choice) = value["choices"].get(0) {
        if let Some(delta) = choice["delta"]["content"].as_str()
            && !delta.is_empty()
        {
            completion.text.push_str(delta);
            partial.push(delta);
        }
        if choice["finish_reason"].is_string() {
            *finish_reason = true;
        }
    }
    if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
        completion.prompt_tokens = usage["prompt_tokens"].as_u64().or(completion.prompt_tokens);
        completion.completion_tokens = usage["completion_tokens"]
            .as_u64()
            .or(completion.completion_tokens);
    }
    Ok(false)
}

/// The provider's explanation in an error body (`error.message`, else the body's start).
async fn error_message(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_ERROR_BODY {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    let value: Option<Value> = serde_json::from_slice(&body).ok();
    value
        .as_ref()
        .and_then(|v| v["error"]["message"].as_str().or(v["message"].as_str()))
        .map_or_else(
            || String::from_utf8_lossy(&body).chars().take(200).collect(),
            str::to_owned,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_add_text_and_usage() {
        let partial = PartialOutput::default();
        let mut c = Completion::default();
        let mut fin = false;
        assert!(
            !apply(
                r#"{"choices":[{"delta":{"content":"你"}}]}"#,
                &mut c,
                &mut fin,
                &partial
            )
            .unwrap()
        );
        assert!(
            !apply(
                r#"{"choices":[{"delta":{"content":"好"},"finish_reason":"stop"}]}"#,
                &mut c,
                &mut fin,
                &partial
            )
            .unwrap()
        );
        assert!(
            !apply(
                r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}"#,
                &mut c,
                &mut fin,
                &partial
            )
            .unwrap()
        );
        assert!(apply("[DONE]", &mut c, &mut fin, &partial).unwrap());
        assert_eq!(c.text, "你好");
        assert_eq!((c.prompt_tokens, c.completion_tokens), (Some(7), Some(2)));
        assert!(fin);
        assert_eq!(partial.text(), "你好");
        assert!(matches!(
            apply("nope", &mut c, &mut fin, &partial),
            Err(ChatError::BadStream(_))
        ));
        assert!(matches!(
            apply(r#"{"error":{"message":"overloaded"}}"#, &mut c, &mut fin, &partial),
            Err(ChatError::Status { message, .. }) if message == "overloaded"
        ));
    }

    #[test]
    fn outcomes_name_the_failure() {
        assert_eq!(
            ChatError::Status {
                status: 503,
                message: String::new()
            }
            .outcome(),
            "server_error"
        );
        assert_eq!(
            ChatError::Status {
                status: 400,
                message: String::new()
            }
            .outcome(),
            "bad_request"
        );
        let e = ChatError::RateLimited {
            retry_after: Some(3),
            message: "slow down".into(),
        };
        assert_eq!(e.outcome(), "rate_limited");
        assert!(e.to_string().contains("retry after 3 s"), "{e}");
    }
}
