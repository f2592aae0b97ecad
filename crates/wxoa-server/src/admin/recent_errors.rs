//! The warnings and errors the server logged lately, for the console's dashboard: a
//! `tracing_subscriber` layer keeping the last 100 WARN and ERROR events in a ring buffer.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// How many events are kept.
pub const RECENT_ERRORS_KEPT: usize = 100;
/// The longest message kept, in bytes.
const MAX_MESSAGE_BYTES: usize = 1024;

/// One logged warning or error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoggedError {
    /// Unix seconds at which it was logged.
    pub at: i64,
    /// `WARN` or `ERROR`.
    pub level: String,
    /// The module that logged it.
    pub target: String,
    /// The message and its fields (`message key=value …`).
    pub message: String,
}

/// The ring buffer; cheap to clone (all clones share it).
#[derive(Debug, Clone, Default)]
pub struct RecentErrors {
    events: Arc<Mutex<VecDeque<LoggedError>>>,
}

impl RecentErrors {
    /// The buffer of this process, which `wxoa`'s logging fills: the subscriber is installed
    /// once, before the config (and so the console) exists.
    #[must_use]
    pub fn process() -> &'static Self {
        static PROCESS: OnceLock<RecentErrors> = OnceLock::new();
        PROCESS.get_or_init(Self::default)
    }

    /// A layer that records into this buffer.
    #[must_use]
    pub fn layer(&self) -> RecentErrorsLayer {
        RecentErrorsLayer {
            errors: self.clone(),
        }
    }

    /// Keeps `error`, dropping the oldest beyond [`RECENT_ERRORS_KEPT`].
    pub fn record(&self, error: LoggedError) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if events.len() >= RECENT_ERRORS_KEPT {
            events.pop_front();
        }
        events.push_back(error);
    }

    /// The events logged at or after `since` (Unix seconds), newest first.
    #[must_use]
    pub fn since(&self, since: i64) -> Vec<LoggedError> {
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        events
            .iter()
            .rev()
            .filter(|e| e.at >= since)
            .cloned()
            .collect()
    }
}

/// The layer of [`RecentErrors::layer`].
#[derive(Debug, Clone)]
pub struct RecentErrorsLayer {
    errors: RecentErrors,
}

impl<S> Layer<S> for RecentErrorsLayer
where
    S: Subscriber,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::WARN {
            return;
        }
        let mut text = MessageText::default();
        event.record(&mut text);
        let mut message = text.message;
        if !text.fields.is_empty() {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(text.fields.trim_start());
        }
        if message.len() > MAX_MESSAGE_BYTES {
            let mut end = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.errors.record(LoggedError {
            at,
            level: level.to_string(),
            target: event.metadata().target().to_owned(),
            message,
        });
    }
}

/// Collects an event's message and its other fields as `key=value`.
#[derive(Default)]
struct MessageText {
    message: String,
    fields: String,
}

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn keeps_warnings_and_errors_newest_first() {
        let errors = RecentErrors::default();
        let subscriber = tracing_subscriber::registry().with(errors.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not kept");
            tracing::warn!(rule = "help", "slow answer");
            tracing::error!(error = %"boom", "action failed");
        });
        let kept = errors.since(0);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].level, "ERROR");
        assert_eq!(kept[0].message, "action failed error=boom");
        assert_eq!(kept[1].message, "slow answer rule=help");
        assert!(kept[0].target.contains("recent_errors"));
        assert!(errors.since(i64::MAX).is_empty());
    }

    #[test]
    fn ring_keeps_the_last_hundred() {
        let errors = RecentErrors::default();
        for i in 0..150 {
            errors.record(LoggedError {
                at: i,
                level: "WARN".into(),
                target: "t".into(),
                message: i.to_string(),
            });
        }
        let kept = errors.since(0);
        assert_eq!(kept.len(), RECENT_ERRORS_KEPT);
        assert_eq!(kept[0].message, "149");
        assert_eq!(kept[99].message, "50");
    }
}
