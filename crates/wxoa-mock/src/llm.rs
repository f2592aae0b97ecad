//! A fake OpenAI-compatible model server (`wxoa mock --llm`): `POST /v1/chat/completions`
//! streams a deterministic answer at a configurable pace, can be told to be slow, to fail
//! (429 with `retry-after`, 500, 401) or to cut the stream, and records every request.
//!
//! Control it from Rust ([`MockLlm`]'s methods) or over HTTP: `GET /mock/llm/requests` (what
//! was asked, in order), `POST /mock/llm/config` with any of `{"answer": "…",
//! "chars_per_chunk": 4, "chunk_interval_ms": 100, "first_token_delay_ms": 0, "fault":
//! {"status": 429, "retry_after": 3} | {"cut_after_chars": 10} | null}`.
//!
//! Without a fixed answer, the answer is made from the last user message and the number of
//! user turns in the request, so a conversation's memory is visible offline.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// How the fake model paces its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmConfig {
    /// The answer to every request; `None` derives one from the question.
    pub answer: Option<String>,
    /// Characters per streamed chunk (at least 1).
    pub chars_per_chunk: usize,
    /// Pause between chunks.
    pub chunk_interval: Duration,
    /// Pause before the first chunk (the model "thinking").
    pub first_token_delay: Duration,
    /// The bearer token requests must carry; `None` accepts any (or none).
    pub api_key: Option<String>,
}

impl Default for LlmConfig {
    /// 4 characters every 100 ms (40 characters a second), answering at once, any key.
    fn default() -> Self {
        Self {
            answer: None,
            chars_per_chunk: 4,
            chunk_interval: Duration::from_millis(100),
            first_token_delay: Duration::ZERO,
            api_key: None,
        }
    }
}

/// A failure the fake model plays instead of (or in the middle of) an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmFault {
    /// Answer this HTTP status with an OpenAI-style error body; `retry_after` (seconds) sets
    /// the `retry-after` header.
    Status {
        /// The HTTP status (429, 500, 401, …).
        status: u16,
        /// Seconds for `retry-after`.
        retry_after: Option<u64>,
    },
    /// Stream this many characters, then close the connection without finishing.
    CutAfter(usize),
}

#[derive(Debug, Default)]
struct LlmState {
    config: LlmConfig,
    /// Faults for the next requests, in order.
    next_faults: VecDeque<LlmFault>,
    /// A fault for every request (after the queued ones).
    always: Option<LlmFault>,
    requests: Vec<Value>,
}

/// The fake model server; cheap to clone (an `Arc`).
#[derive(Debug, Clone, Default)]
pub struct MockLlm {
    state: Arc<Mutex<LlmState>>,
}

impl MockLlm {
    /// A fake model with `config`.
    #[must_use]
    pub fn new(config: LlmConfig) -> Self {
        Self {
            state: Arc::new(Mutex::new(LlmState {
                config,
                ..LlmState::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LlmState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current configuration.
    #[must_use]
    pub fn config(&self) -> LlmConfig {
        self.lock().config.clone()
    }

    /// Answer `answer` to every request (`None`: derive it from the question).
    pub fn set_answer(&self, answer: Option<String>) {
        self.lock().config.answer = answer;
    }

    /// Stream `chars_per_chunk` characters every `interval`.
    pub fn set_pace(&self, chars_per_chunk: usize, interval: Duration) {
        let mut state = self.lock();
        state.config.chars_per_chunk = chars_per_chunk.max(1);
        state.config.chunk_interval = interval;
    }

    /// Wait `delay` before the first chunk.
    pub fn set_first_token_delay(&self, delay: Duration) {
        self.lock().config.first_token_delay = delay;
    }

    /// Play `fault` on the next request (queued after faults already set this way).
    pub fn fail_next(&self, fault: LlmFault) {
        self.lock().next_faults.push_back(fault);
    }

    /// Play `fault` on every request (after the queued ones); `None` stops.
    pub fn fail_always(&self, fault: Option<LlmFault>) {
        self.lock().always = fault;
    }

    /// Every request body received, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<Value> {
        self.lock().requests.clone()
    }

    /// The routes: `/v1/chat/completions`, `/v1/models`, `/mock/llm/requests`,
    /// `/mock/llm/config`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/models", get(models))
            .route("/mock/llm/requests", get(requests))
            .route("/mock/llm/config", post(configure))
            .with_state(self.clone())
    }

    /// Serve [`router`](Self::router) on `listener` until the task is dropped.
    ///
    /// # Errors
    /// The I/O error that stopped the server.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }
}

/// The answer derived from a request when no fixed answer is set.
#[must_use]
pub fn derived_answer(request: &Value) -> String {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let user_turns = messages.iter().filter(|m| m["role"] == "user").count();
    let question = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| match &m["content"] {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        })
        .unwrap_or_default();
    format!(
        "**模拟回答**：你说的是「{question}」。这是第 {user_turns} 轮对话。\n\n- 这是离线的模拟模型，不会真正思考。\n- 换成真实模型，见 docs/ai.md。"
    )
}

async fn models() -> Json<Value> {
    Json(json!({ "object": "list", "data": [{ "id": "mock-model", "object": "model" }] }))
}

async fn requests(State(llm): State<MockLlm>) -> Json<Value> {
    Json(Value::Array(llm.requests()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigPatch {
    #[serde(default)]
    answer: Option<Option<String>>,
    chars_per_chunk: Option<usize>,
    chunk_interval_ms: Option<u64>,
    first_token_delay_ms: Option<u64>,
    #[serde(default)]
    fault: Option<Option<FaultBody>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultBody {
    status: Option<u16>,
    retry_after: Option<u64>,
    cut_after_chars: Option<usize>,
}

async fn configure(State(llm): State<MockLlm>, body: axum::body::Bytes) -> Response {
    let patch: ConfigPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": format!("bad config: {e}") })),
            )
                .into_response();
        }
    };
    let mut state = llm.lock();
    if let Some(answer) = patch.answer {
        state.config.answer = answer;
    }
    if let Some(n) = patch.chars_per_chunk {
        state.config.chars_per_chunk = n.max(1);
    }
    if let Some(ms) = patch.chunk_interval_ms {
        state.config.chunk_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = patch.first_token_delay_ms {
        state.config.first_token_delay = Duration::from_millis(ms);
    }
    if let Some(fault) = patch.fault {
        state.always = fault.and_then(|f| match (f.status, f.cut_after_chars) {
            (Some(status), _) => Some(LlmFault::Status {
                status,
                retry_after: f.retry_after,
            }),
            (None, Some(n)) => Some(LlmFault::CutAfter(n)),
            (None, None) => None,
        });
    }
    Json(json!({ "ok": true })).into_response()
}

fn error_response(status: u16, retry_after: Option<u64>, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        Json(json!({ "error": { "message": message, "type": "mock_error", "code": status.as_u16() } })),
    )
        .into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

async fn completions(
    State(llm): State<MockLlm>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error_response(400, None, &format!("invalid JSON: {e}")),
    };
    let (config, fault) = {
        let mut state = llm.lock();
        state.requests.push(request.clone());
        let fault = state
            .next_faults
            .pop_front()
            .or_else(|| state.always.clone());
        (state.config.clone(), fault)
    };
    if let Some(key) = &config.api_key {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(key.as_str()) {
            return error_response(401, None, "Incorrect API key provided");
        }
    }
    let mut cut_after = None;
    match fault {
        Some(LlmFault::Status {
            status,
            retry_after,
        }) => {
            let message = match status {
                429 => "Rate limit reached, please retry later",
                401 => "Incorrect API key provided",
                _ => "The server had an error while processing your request",
            };
            return error_response(status, retry_after, message);
        }
        Some(LlmFault::CutAfter(n)) => cut_after = Some(n),
        None => {}
    }
    let model = request["model"].as_str().unwrap_or("mock-model").to_owned();
    let answer = config
        .answer
        .clone()
        .unwrap_or_else(|| derived_answer(&request));
    let prompt_tokens = u64::try_from(body.len() / 3).unwrap_or(u64::MAX);
    let completion_tokens = u64::try_from(answer.chars().count()).unwrap_or(u64::MAX);
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    if request["stream"] != Value::Bool(true) {
        tokio::time::sleep(config.first_token_delay).await;
        let chunks = answer
            .chars()
            .count()
            .div_ceil(config.chars_per_chunk.max(1));
        tokio::time::sleep(config.chunk_interval * u32::try_from(chunks).unwrap_or(u32::MAX)).await;
        return Json(json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "model": model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": answer }, "finish_reason": "stop" }],
            "usage": usage,
        }))
        .into_response();
    }
    let include_usage = request["stream_options"]["include_usage"] == Value::Bool(true);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({
                    "id": "chatcmpl-mock",
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
                })
            )
        };
        tokio::time::sleep(config.first_token_delay).await;
        let chars: Vec<char> = answer.chars().collect();
        let mut sent = 0;
        for piece in chars.chunks(config.chars_per_chunk.max(1)) {
            if let Some(limit) = cut_after
                && sent >= limit
            {
                let _ = tx
                    .send(Err(std::io::Error::other("stream cut by the mock")))
                    .await;
                return;
            }
            let text: String = piece.iter().collect();
            sent += piece.len();
            if tx
                .send(Ok(chunk(json!({ "content": text }), Value::Null)))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(config.chunk_interval).await;
        }
        if cut_after.is_some() {
            let _ = tx
                .send(Err(std::io::Error::other("stream cut by the mock")))
                .await;
            return;
        }
        let _ = tx.send(Ok(chunk(json!({}), json!("stop")))).await;
        if include_usage {
            let _ = tx
                .send(Ok(format!(
                    "data: {}\n\n",
                    json!({ "id": "chatcmpl-mock", "object": "chat.completion.chunk", "choices": [], "usage": usage })
                )))
                .await;
        }
        let _ = tx.send(Ok("data: [DONE]\n\n".to_owned())).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_answer_names_the_question_and_the_turn() {
        let request = json!({ "messages": [
            { "role": "system", "content": "s" },
            { "role": "user", "content": "一" },
            { "role": "assistant", "content": "a" },
            { "role": "user", "content": [{ "type": "text", "text": "二" }] },
        ]});
        let answer = derived_answer(&request);
        assert!(answer.contains("「二」"), "{answer}");
        assert!(answer.contains("第 2 轮"), "{answer}");
    }

    #[test]
    fn faults_queue_before_the_standing_one() {
        let llm = MockLlm::default();
        llm.fail_next(LlmFault::CutAfter(3));
        llm.fail_always(Some(LlmFault::Status {
            status: 500,
            retry_after: None,
        }));
        let mut state = llm.lock();
        assert_eq!(state.next_faults.pop_front(), Some(LlmFault::CutAfter(3)));
        assert!(state.always.is_some());
    }
}
