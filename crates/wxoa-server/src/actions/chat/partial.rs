//! The answer as it streams, shared between a chat action and the deadline logic of its push:
//! at the platform's last attempt the deadline logic may show the whole sentences so far.

use std::sync::{Arc, Mutex, PoisonError};

use wxoa_proto::limits::MAX_TEXT_REPLY_BYTES;

use super::markdown;
use super::split::sentence_prefix;

/// The fewest characters worth showing as a partial answer.
const MIN_PREFIX_CHARS: usize = 10;

/// A streaming answer; cheap to clone (an `Arc`).
#[derive(Debug, Clone, Default)]
pub struct PartialOutput {
    inner: Arc<Mutex<PartialState>>,
}

#[derive(Debug, Default)]
struct PartialState {
    /// The Markdown received so far.
    text: String,
    /// The action has its whole answer (or failed): no prefix may be taken any more.
    finished: bool,
    /// The rendered prefix the deadline logic showed.
    shown: Option<String>,
    /// The line appended to a shown prefix (names the continue keyword).
    hint: String,
    /// Keywords a shown prefix must not contain.
    blocked_words: Vec<String>,
    /// False when a filter webhook must see the answer before anything is shown.
    prefix_allowed: bool,
}

impl PartialOutput {
    /// An empty answer; a prefix shown ends with `hint`, must not contain `blocked_words`
    /// (lowercase) and is only offered when `prefix_allowed`.
    pub(crate) fn new(hint: String, blocked_words: Vec<String>, prefix_allowed: bool) -> Self {
        Self {
            inner: Arc::new(Mutex::new(PartialState {
                hint,
                blocked_words,
                prefix_allowed,
                ..PartialState::default()
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PartialState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Append streamed text.
    pub(crate) fn push(&self, delta: &str) {
        let mut state = self.lock();
        if !state.finished {
            state.text.push_str(delta);
        }
    }

    /// The text received so far (Markdown as the model wrote it).
    #[must_use]
    pub fn text(&self) -> String {
        self.lock().text.clone()
    }

    /// For the platform's last attempt: the whole sentences streamed so far, rendered for the
    /// chat window and followed by the hint to ask for the rest, when there are enough of
    /// them and the answer is still streaming. Taken once; the action then keeps the rest for
    /// the continue keyword instead of answering it.
    #[must_use]
    pub fn take_prefix(&self) -> Option<String> {
        let mut state = self.lock();
        if state.finished || state.shown.is_some() || !state.prefix_allowed {
            return None;
        }
        let rendered = markdown::render(&state.text);
        let budget = MAX_TEXT_REPLY_BYTES.saturating_sub(state.hint.len());
        let prefix = sentence_prefix(&rendered, budget, MIN_PREFIX_CHARS)?.to_owned();
        let lower = prefix.to_lowercase();
        if state
            .blocked_words
            .iter()
            .any(|w| lower.contains(w.as_str()))
        {
            return None;
        }
        let shown = format!("{prefix}{}", state.hint);
        state.shown = Some(prefix);
        Some(shown)
    }

    /// The answer is complete (or failed): no prefix may be taken from now on. Gives the
    /// prefix already shown, if any.
    pub(crate) fn finish(&self) -> Option<String> {
        let mut state = self.lock();
        state.finished = true;
        state.shown.clone()
    }
}

/// What follows `shown` in `full` (both rendered): the rest after the shown prefix, or, when
/// the full rendering differs inside the prefix (Markdown that changed meaning once
/// complete), the rest after their common start.
#[must_use]
pub(crate) fn rest_after<'a>(full: &'a str, shown: &str) -> &'a str {
    if let Some(rest) = full.strip_prefix(shown) {
        return rest;
    }
    let common = full
        .char_indices()
        .zip(shown.chars())
        .take_while(|((_, a), b)| a == b)
        .last()
        .map_or(0, |((i, c), _)| i + c.len_utf8());
    &full[common..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial() -> PartialOutput {
        PartialOutput::new("\n（回复「继续」）".into(), vec!["违禁".into()], true)
    }

    #[test]
    fn prefix_is_whole_sentences_and_taken_once() {
        let p = partial();
        p.push("**第一句话**已经完整说完了。第二句");
        assert_eq!(
            p.take_prefix().as_deref(),
            Some("第一句话已经完整说完了。\n（回复「继续」）")
        );
        assert_eq!(p.take_prefix(), None);
        assert_eq!(p.finish().as_deref(), Some("第一句话已经完整说完了。"));
    }

    #[test]
    fn no_prefix_when_short_finished_blocked_or_disallowed() {
        let p = partial();
        p.push("短。");
        assert_eq!(p.take_prefix(), None);
        let p = partial();
        p.push("这是一个足够长的句子。");
        assert_eq!(p.finish(), None);
        assert_eq!(p.take_prefix(), None);
        let p = partial();
        p.push("这句话里面有违禁的词语。");
        assert_eq!(p.take_prefix(), None);
        let p = PartialOutput::new(String::new(), Vec::new(), false);
        p.push("这是一个足够长的句子。");
        assert_eq!(p.take_prefix(), None);
    }

    #[test]
    fn rest_after_the_shown_prefix() {
        assert_eq!(rest_after("甲。乙。", "甲。"), "乙。");
        assert_eq!(rest_after("甲x。乙。", "甲y"), "x。乙。");
    }
}
