//! The message log on SQLite / PostgreSQL: one `message_log` row per push handled, with its reply.

use std::borrow::Cow;

use wxoa_api::StoreError;

use crate::sql::{Db, op_error, with_pool};

/// The longest `content` and `reply` kept in the log, in bytes of UTF-8; longer text is cut
/// at a character boundary and ends with `…`.
pub const LOG_TEXT_MAX_BYTES: usize = 2048;

const INSERT: &str = "INSERT INTO message_log \
     (at, appid, openid, msg_type, event, msg_id, content, rule, reply_type, reply, latency_ms, mode, source, event_key) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id";

/// The columns of a logged push, in the order of [`Row`].
pub(crate) const COLUMNS: &str = "id, at, appid, openid, msg_type, event, msg_id, content, rule, \
     reply_type, reply, latency_ms, mode, source, event_key";

const RECENT: &str = "SELECT id, at, appid, openid, msg_type, event, msg_id, content, rule, \
     reply_type, reply, latency_ms, mode, source, event_key FROM message_log ORDER BY id DESC LIMIT $1";

const PRUNE: &str = "DELETE FROM message_log WHERE at < $1";

/// One push handled and what was answered, for [`SqlMessageLog::log_message`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageLogEntry {
    /// Unix seconds at which the push arrived.
    pub at: i64,
    /// The account (the push's ToUserName or the configured appid).
    pub appid: String,
    /// The follower (FromUserName).
    pub openid: String,
    /// MsgType (`text`, `event`, `image`, ...).
    pub msg_type: String,
    /// Event, for event pushes.
    pub event: Option<String>,
    /// EventKey (the menu key, the QR scene), for event pushes that carry one.
    pub event_key: Option<String>,
    /// MsgId, for messages.
    pub msg_id: Option<u64>,
    /// The text of the push or a summary (cut to [`LOG_TEXT_MAX_BYTES`] when stored).
    pub content: Option<String>,
    /// The rule that matched, if any.
    pub rule: Option<String>,
    /// The kind of reply (`text`, `news`, `success`, ...).
    pub reply_type: Option<String>,
    /// The reply or a summary (cut to [`LOG_TEXT_MAX_BYTES`] when stored).
    pub reply: Option<String>,
    /// Milliseconds from arrival to answer.
    pub latency_ms: u64,
    /// How the push came: `plain`, `compat` or `safe`.
    pub mode: String,
    /// Where the answer came from (`handler`, `cached`, `parked`, `placeholder`, ...).
    pub source: String,
}

/// A logged push as read back, with its row id (ascending in logging order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedMessage {
    /// The row id.
    pub id: i64,
    /// The entry, with `content` and `reply` as stored (possibly cut).
    pub entry: MessageLogEntry,
}

/// The message log in the SQL database (SQL only: the log belongs to one deployment's
/// database, not to what instances share within seconds).
///
/// Logging must never fail a request: callers log the returned error and go on.
#[derive(Debug, Clone)]
pub struct SqlMessageLog {
    db: Db,
}

/// A row of `message_log`, in the column order of [`COLUMNS`].
pub(crate) type Row = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    String,
    String,
    Option<String>,
);

/// Inserts one entry on `$executor` (a pool or a transaction), returning its row id.
macro_rules! insert {
    ($executor:expr, $entry:expr) => {{
        let entry: &MessageLogEntry = $entry;
        let content = entry.content.as_deref().map(truncate);
        let reply = entry.reply.as_deref().map(truncate);
        let msg_id = entry.msg_id.map(|id| id.to_string());
        let latency = i64::try_from(entry.latency_ms).unwrap_or(i64::MAX);
        sqlx::query_scalar::<_, i64>(INSERT)
            .bind(entry.at)
            .bind(&entry.appid)
            .bind(&entry.openid)
            .bind(&entry.msg_type)
            .bind(entry.event.as_deref())
            .bind(msg_id.as_deref())
            .bind(content.as_deref())
            .bind(entry.rule.as_deref())
            .bind(entry.reply_type.as_deref())
            .bind(reply.as_deref())
            .bind(latency)
            .bind(&entry.mode)
            .bind(&entry.source)
            .bind(entry.event_key.as_deref())
            .fetch_one($executor)
            .await
    }};
}
pub(crate) use insert;

impl SqlMessageLog {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Appends `entry` (cutting `content` and `reply` to [`LOG_TEXT_MAX_BYTES`]) and returns
    /// its row id.
    ///
    /// # Errors
    ///
    /// The statement failed; the caller should log it and carry on.
    pub async fn log_message(&self, entry: &MessageLogEntry) -> Result<i64, StoreError> {
        with_pool!(&self.db, pool => insert!(pool, entry)).map_err(|e| {
            op_error(
                &self.db,
                "log_message",
                &format!("{}/{}", entry.appid, entry.openid),
                e,
            )
        })
    }

    /// The latest `limit` logged pushes, newest first.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn recent_messages(&self, limit: u32) -> Result<Vec<LoggedMessage>, StoreError> {
        let rows: Vec<Row> = with_pool!(&self.db, pool => {
            sqlx::query_as(RECENT).bind(i64::from(limit)).fetch_all(pool).await
        })
        .map_err(|e| op_error(&self.db, "recent_messages", "message_log", e))?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// Deletes pushes logged before `before` (Unix seconds); returns how many.
    ///
    /// # Errors
    ///
    /// The statement failed.
    pub async fn prune_messages(&self, before: i64) -> Result<u64, StoreError> {
        with_pool!(&self.db, pool => {
            sqlx::query(PRUNE).bind(before).execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(|e| op_error(&self.db, "prune_messages", "message_log", e))
    }
}

pub(crate) fn from_row(row: Row) -> LoggedMessage {
    let (
        id,
        at,
        appid,
        openid,
        msg_type,
        event,
        msg_id,
        content,
        rule,
        reply_type,
        reply,
        latency_ms,
        mode,
        source,
        event_key,
    ) = row;
    LoggedMessage {
        id,
        entry: MessageLogEntry {
            at,
            appid,
            openid,
            msg_type,
            event,
            event_key,
            msg_id: msg_id.and_then(|id| id.parse().ok()),
            content,
            rule,
            reply_type,
            reply,
            latency_ms: u64::try_from(latency_ms).unwrap_or_default(),
            mode,
            source,
        },
    }
}

/// `text` cut to at most [`LOG_TEXT_MAX_BYTES`] bytes at a character boundary, ending with
/// `…` when cut.
fn truncate(text: &str) -> Cow<'_, str> {
    if text.len() <= LOG_TEXT_MAX_BYTES {
        return Cow::Borrowed(text);
    }
    const MARK: &str = "…";
    let mut end = LOG_TEXT_MAX_BYTES - MARK.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{MARK}", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept() {
        let text = "x".repeat(LOG_TEXT_MAX_BYTES);
        assert!(matches!(truncate(&text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        // 3-byte characters: the cut falls inside one unless it steps back.
        let text = "中".repeat(1000);
        let cut = truncate(&text);
        assert!(cut.len() <= LOG_TEXT_MAX_BYTES, "{}", cut.len());
        assert!(cut.len() > LOG_TEXT_MAX_BYTES - 6, "{}", cut.len());
        assert!(cut.ends_with("中…"), "{cut}");

        let ascii = "a".repeat(LOG_TEXT_MAX_BYTES + 1);
        let cut = truncate(&ascii);
        assert_eq!(cut.len(), LOG_TEXT_MAX_BYTES);
        assert!(cut.ends_with("a…"));
    }
}
