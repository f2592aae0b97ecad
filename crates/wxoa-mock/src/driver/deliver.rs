//! Delivery with the platform's timing: each attempt gets the timeout (5 s), a timeout, a
//! non-200 or an invalid body means the same bytes are sent again, up to the attempt limit (3),
//! and then the follower sees the banner. Every attempt is recorded.

use std::fmt;
use std::time::Duration;

use axum::http::Method;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::judge::{Expect, Failure, FollowerSees, ReplyView, Verdict, judge};
use super::push::Mode;
use super::transport::{HttpRequest, Transport};

/// How much of a response body an [`Attempt`] keeps.
const KEPT_BODY_CHARS: usize = 4096;

/// What was pushed: the platform's identifiers and the exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSummary {
    /// The mode.
    pub mode: Mode,
    /// `FromUserName`: the follower.
    pub from: String,
    /// `ToUserName`: the account's `gh_` id.
    pub to: String,
    /// `MsgType`.
    pub msg_type: String,
    /// `MsgId` of a message (or `MsgID` of a job event); a string in JSON, as it exceeds 2^53.
    #[serde(
        default,
        with = "super::push::opt_u64_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<u64>,
    /// `Event`, for events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `EventKey`, for events that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_key: Option<String>,
    /// `CreateTime`.
    pub create_time: i64,
    /// The `timestamp` query parameter (same on every attempt).
    pub timestamp: String,
    /// The `nonce` query parameter (same on every attempt).
    pub nonce: String,
    /// The full URL posted to, query included.
    pub url: String,
    /// The message XML before encryption.
    pub xml: String,
    /// The request body exactly as posted.
    pub body: String,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1-based attempt number.
    pub number: u32,
    /// The HTTP status, when a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time from sending to the end of the response (or to the timeout), in milliseconds.
    pub elapsed_ms: u64,
    /// The response body as text (lossy UTF-8, cut at 4096 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// What went wrong; `None` for the accepted attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// `failure` as a sentence (for JSON readers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Attempt {
    /// Whether the platform accepted this attempt's response.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// [`Attempt::elapsed_ms`] as a duration.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms)
    }
}

impl fmt::Display for Attempt {
    /// `attempt 1: HTTP 200 in 12 ms` or `attempt 2: no response in 5000 ms — reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt {}: ", self.number)?;
        match (self.status, &self.failure) {
            (_, Some(Failure::Timeout { .. })) => {
                write!(f, "no response in {} ms", self.elapsed_ms)?;
            }
            (Some(status), _) => write!(f, "HTTP {status} in {} ms", self.elapsed_ms)?,
            (None, _) => write!(f, "failed after {} ms", self.elapsed_ms)?,
        }
        if let Some(failure) = &self.failure {
            write!(f, " — {failure}")?;
        }
        Ok(())
    }
}

/// The result of one push: what was sent, every attempt, what the follower sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// What was pushed.
    pub push: PushSummary,
    /// Every attempt, in order (1 when the first was accepted).
    pub attempts: Vec<Attempt>,
    /// What the follower sees.
    pub outcome: FollowerSees,
    /// Observations that are not failures (e.g. a reply WeChat does not show).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Delivery {
    /// Whether the follower sees the banner.
    #[must_use]
    pub fn is_banner(&self) -> bool {
        self.outcome.is_banner()
    }

    /// Total time across attempts.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.attempts.iter().map(Attempt::elapsed).sum()
    }
}

impl fmt::Display for Delivery {
    /// What the follower sees. The alternate form (`{:#}`) first lists the attempts and notes, one
    /// a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            for attempt in &self.attempts {
                writeln!(f, "{attempt}")?;
            }
            for note in &self.notes {
                writeln!(f, "note: {note}")?;
            }
        }
        fmt::Display::fmt(&self.outcome, f)
    }
}

/// The result of the URL verification (the GET the platform sends when the URL is saved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The URL requested, query included.
    pub url: String,
    /// The echostr sent.
    pub echostr: String,
    /// The HTTP status, when a response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time to the response or timeout, in milliseconds.
    pub elapsed_ms: u64,
    /// The body (lossy UTF-8, cut at 4096 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// Whether the body was the echostr verbatim with status 200.
    pub passed: bool,
    /// Why it did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// `failure` as a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(f, "URL verified: echostr echoed in {} ms", self.elapsed_ms),
            Some(failure) => write!(f, "URL verification failed: {failure}"),
        }
    }
}

/// A push ready to send: the request bytes and what its reply is judged against.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) request: HttpRequest,
    pub(crate) user_message: bool,
    pub(crate) reply_shown: bool,
}

/// The settings one delivery needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan<'a> {
    pub(crate) transport: &'a dyn Transport,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
}

/// Send the same request up to `plan.attempts` times until one is accepted.
pub(crate) async fn deliver(
    plan: Plan<'_>,
    expect: &Expect<'_>,
    outgoing: &Outgoing,
    summary: PushSummary,
    observer: &mut (dyn FnMut(&Attempt) + Send),
) -> Delivery {
    let mut attempts = Vec::new();
    let mut accepted = None;
    for number in 1..=plan.attempts.max(1) {
        let (attempt, verdict) = one_attempt(plan, expect, &outgoing.request, number).await;
        tracing::debug!(
            msg_id = ?summary.msg_id,
            mode = %summary.mode,
            attempt = number,
            status = ?attempt.status,
            elapsed_ms = attempt.elapsed_ms,
            reason = attempt.reason.as_deref().unwrap_or("ok"),
            "push attempt"
        );
        observer(&attempt);
        attempts.push(attempt);
        if let Some(verdict) = verdict {
            accepted = Some(verdict);
            break;
        }
    }
    let mut notes = Vec::new();
    let outcome = match accepted {
        None => FollowerSees::Banner {
            reason: banner_reason(&attempts),
        },
        Some(_) if !outgoing.reply_shown => {
            notes.push(
                "the follower has unfollowed: WeChat shows no reply to unsubscribe".to_owned(),
            );
            FollowerSees::Nothing
        }
        Some(Verdict::Nothing) => FollowerSees::Nothing,
        Some(Verdict::Reply(seen)) => {
            if let (Some(shown), ReplyView::News { articles }) = (seen.articles_shown, &seen.reply)
                && shown < articles.len()
            {
                notes.push(format!(
                    "news reply with {} articles: WeChat shows only the first in reply to a message the follower sent",
                    articles.len()
                ));
            }
            FollowerSees::Reply(seen)
        }
    };
    Delivery {
        push: summary,
        attempts,
        outcome,
        notes,
    }
}

async fn one_attempt(
    plan: Plan<'_>,
    expect: &Expect<'_>,
    request: &HttpRequest,
    number: u32,
) -> (Attempt, Option<Verdict>) {
    let started = Instant::now();
    let result = tokio::time::timeout(plan.timeout, plan.transport.send(request.clone())).await;
    let elapsed_ms = millis(started.elapsed());
    let (status, response, judged) = match result {
        Err(_) => (
            None,
            None,
            Err(Failure::Timeout {
                timeout_ms: millis(plan.timeout),
            }),
        ),
        Ok(Err(e)) => (
            None,
            None,
            Err(Failure::Transport {
                reason: e.to_string(),
            }),
        ),
        Ok(Ok(r)) => (
            Some(r.status),
            Some(kept_text(&r.body)),
            judge(expect, r.status, &r.body),
        ),
    };
    let (failure, verdict) = match judged {
        Ok(v) => (None, Some(v)),
        Err(f) => (Some(f), None),
    };
    let attempt = Attempt {
        number,
        status,
        elapsed_ms,
        response,
        reason: failure.as_ref().map(ToString::to_string),
        failure,
    };
    (attempt, verdict)
}

/// Send the verification GET once and check the echo.
pub(crate) async fn verify(
    transport: &dyn Transport,
    timeout: Duration,
    url: url::Url,
    echostr: String,
) -> Verification {
    let request = HttpRequest {
        method: Method::GET,
        url: url.clone(),
        body: Bytes::new(),
    };
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, transport.send(request)).await;
    let elapsed_ms = millis(started.elapsed());
    let (status, response, failure) = match result {
        Err(_) => (
            None,
            None,
            Some(Failure::Timeout {
                timeout_ms: millis(timeout),
            }),
        ),
        Ok(Err(e)) => (
            None,
            None,
            Some(Failure::Transport {
                reason: e.to_string(),
            }),
        ),
        Ok(Ok(r)) => {
            let failure = if r.status != 200 {
                Some(Failure::Status { status: r.status })
            } else if r.body.as_ref() != echostr.as_bytes() {
                Some(Failure::EchoMismatch {
                    expected: echostr.clone(),
                    found: kept_text(&r.body).chars().take(200).collect(),
                })
            } else {
                None
            };
            (Some(r.status), Some(kept_text(&r.body)), failure)
        }
    };
    Verification {
        url: url.to_string(),
        echostr,
        status,
        elapsed_ms,
        response,
        passed: failure.is_none(),
        reason: failure.as_ref().map(ToString::to_string),
        failure,
    }
}

/// The banner's reason: the one failure when all attempts failed alike, else each in turn.
fn banner_reason(attempts: &[Attempt]) -> String {
    let reasons: Vec<&str> = attempts
        .iter()
        .filter_map(|a| a.reason.as_deref())
        .collect();
    match reasons.as_slice() {
        [] => "no attempt was made".to_owned(),
        [first, rest @ ..] if rest.iter().all(|r| r == first) => {
            format!("{} attempts failed: {first}", reasons.len())
        }
        _ => attempts
            .iter()
            .filter_map(|a| {
                a.reason
                    .as_deref()
                    .map(|r| format!("attempt {}: {r}", a.number))
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn kept_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.chars().count() <= KEPT_BODY_CHARS {
        return text.into_owned();
    }
    let mut kept: String = text.chars().take(KEPT_BODY_CHARS).collect();
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(number: u32, failure: Option<Failure>) -> Attempt {
        Attempt {
            number,
            status: Some(500),
            elapsed_ms: 3,
            response: None,
            reason: failure.as_ref().map(ToString::to_string),
            failure,
        }
    }

    #[test]
    fn banner_reason_merges_identical_failures() {
        let same: Vec<Attempt> = (1..=3)
            .map(|n| attempt(n, Some(Failure::Status { status: 500 })))
            .collect();
        let r = banner_reason(&same);
        assert!(r.starts_with("3 attempts failed: HTTP 500"), "{r}");
        let mixed = vec![
            attempt(1, Some(Failure::Status { status: 500 })),
            attempt(2, Some(Failure::EmptyContent)),
        ];
        let r = banner_reason(&mixed);
        assert!(
            r.contains("attempt 1: HTTP 500") && r.contains("attempt 2: text reply"),
            "{r}"
        );
    }

    #[test]
    fn attempt_lines() {
        let a = attempt(2, Some(Failure::Timeout { timeout_ms: 5000 }));
        let a = Attempt {
            status: None,
            elapsed_ms: 5000,
            ..a
        };
        assert!(
            a.to_string()
                .starts_with("attempt 2: no response in 5000 ms — "),
            "{a}"
        );
        let ok = Attempt {
            status: Some(200),
            ..attempt(1, None)
        };
        assert_eq!(ok.to_string(), "attempt 1: HTTP 200 in 3 ms");
        assert!(ok.ok() && !a.ok());
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "字".repeat(KEPT_BODY_CHARS + 10);
        let kept = kept_text(body.as_bytes());
        assert_eq!(kept.chars().count(), KEPT_BODY_CHARS + 1);
        assert!(kept.ends_with('…'));
    }

    #[test]
    fn msg_id_is_a_string_in_json() {
        let summary = PushSummary {
            mode: Mode::Safe,
            from: "o".to_owned(),
            to: "gh".to_owned(),
            msg_type: "text".to_owned(),
            msg_id: Some(6_054_768_590_064_713_728),
            event: None,
            event_key: None,
            create_time: 1,
            timestamp: "1".to_owned(),
            nonce: "2".to_owned(),
            url: "http://x/".to_owned(),
            xml: "<xml/>".to_owned(),
            body: "<xml/>".to_owned(),
        };
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["msg_id"], "6054768590064713728");
        assert_eq!(json["mode"], "safe");
        assert_eq!(
            serde_json::from_value::<PushSummary>(json).unwrap(),
            summary
        );
        let mut json = serde_json::to_value(&summary).unwrap();
        json["msg_id"] = serde_json::json!(12);
        assert_eq!(
            serde_json::from_value::<PushSummary>(json).unwrap().msg_id,
            Some(12)
        );
    }
}
