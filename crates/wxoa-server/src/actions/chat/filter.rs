//! The content filter of a chat profile, applied before anything is sent: a keyword list
//! (case-insensitive, on the question and on the answer) and/or a moderation webhook that
//! sees both.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::profile::ChatProfile;
use crate::actions::http::{error_chain, shown};

/// How long the moderation webhook may take.
const FILTER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the filter decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Allow,
    /// Do not; answer this text instead.
    Refuse(String),
}

/// The first blocked keyword in `text`, if any.
#[must_use]
pub fn blocked_keyword<'a>(profile: &'a ChatProfile, text: &str) -> Option<&'a str> {
    if profile.filter_keywords.is_empty() {
        return None;
    }
    let lower = text.to_lowercase();
    profile
        .filter_keywords
        .iter()
        .find(|k| lower.contains(k.as_str()))
        .map(String::as_str)
}

/// Check an answer: keywords first, then the webhook. A webhook that fails or answers
/// something unreadable refuses (the filter fails closed), with a log line.
pub async fn check_answer(
    http: &reqwest::Client,
    profile: &ChatProfile,
    openid: &str,
    question: &str,
    answer: &str,
) -> Verdict {
    if let Some(word) = blocked_keyword(profile, answer) {
        tracing::info!(profile = %profile.name, openid, word, "answer refused by filter_keywords");
        return Verdict::Refuse(profile.filter_text.clone());
    }
    let Some(url) = &profile.filter_webhook else {
        return Verdict::Allow;
    };
    let body = json!({ "openid": openid, "question": question, "answer": answer, "profile": profile.name });
    let call = async {
        let response = http.post(url.clone()).json(&body).send().await?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        Ok::<_, reqwest::Error>((status, value))
    };
    let refuse = |why: &str| {
        tracing::warn!(profile = %profile.name, url = %shown(url), why, "filter_webhook failed; refusing the answer");
        Verdict::Refuse(profile.filter_text.clone())
    };
    match tokio::time::timeout(FILTER_TIMEOUT, call).await {
        Err(_) => refuse("timeout"),
        Ok(Err(e)) => refuse(&error_chain(&e)),
        Ok(Ok((status, _))) if status != StatusCode::OK => refuse(&format!("HTTP {status}")),
        Ok(Ok((_, value))) => match value["allow"].as_bool() {
            Some(true) => Verdict::Allow,
            Some(false) => {
                tracing::info!(profile = %profile.name, openid, "answer refused by filter_webhook");
                Verdict::Refuse(
                    value["text"]
                        .as_str()
                        .filter(|t| !t.trim().is_empty())
                        .map_or_else(|| profile.filter_text.clone(), str::to_owned),
                )
            }
            None => refuse("the body has no boolean `allow`"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::chat::profile::ChatSpec;

    #[test]
    fn keywords_match_case_insensitively() {
        let spec = ChatSpec {
            model: "m".into(),
            base_url: "http://x.test".into(),
            filter_keywords: vec!["Secret".into(), "机密".into()],
            ..ChatSpec::default()
        };
        let p = ChatProfile::compile("bot", &spec).unwrap();
        assert_eq!(blocked_keyword(&p, "the SECRET plan"), Some("secret"));
        assert_eq!(blocked_keyword(&p, "公司机密"), Some("机密"));
        assert_eq!(blocked_keyword(&p, "hello"), None);
    }
}
