//! The message log on SQLite / PostgreSQL: one `message_log` row per push handled, with its reply.

use std::borrow::Cow;
use std::fmt::Write as _;

use wxoa_api::StoreError;

use crate::sql::followers::{INSERT_EVENT, UPSERT_STATE};
use crate::sql::{Db, op_error, with_pool};

/// The longest `content` and `reply` kept in the log, in bytes of UTF-8; longer text is cut
/// at a character boundary and ends with `…`.
pub const LOG_TEXT_MAX_BYTES: usize = 2048;

/// The columns an insert writes, in the order [`bind_entry`] binds them.
const INSERT_COLUMNS: &str = "INSERT INTO message_log \
     (at, appid, openid, msg_type, event, msg_id, content, rule, reply_type, reply, latency_ms, mode, source, event_key) VALUES ";
/// How many values one inserted row binds.
const VALUES_PER_ROW: usize = 14;
/// Rows per multi-row insert statement: well under SQLite's limit of 32 766 bound values, and
/// large enough that a busy server's batches cost a few statements.
const ROWS_PER_STATEMENT: usize = 64;

/// A follower's activity in one batch: first and last push, last message, how many pushes.
const UPSERT_ACTIVITY: &str = "INSERT INTO followers \
     (appid, openid, subscribed, first_seen_at, updated_at, last_seen_at, last_message_at, messages) \
     VALUES ($1, $2, $3, $4, $4, $5, $6, $7) \
     ON CONFLICT (appid, openid) DO UPDATE SET \
     first_seen_at = CASE WHEN excluded.first_seen_at < followers.first_seen_at \
         THEN excluded.first_seen_at ELSE followers.first_seen_at END, \
     last_seen_at = CASE WHEN followers.last_seen_at IS NULL OR excluded.last_seen_at > followers.last_seen_at \
         THEN excluded.last_seen_at ELSE followers.last_seen_at END, \
     last_message_at = CASE WHEN excluded.last_message_at IS NOT NULL \
             AND (followers.last_message_at IS NULL OR excluded.last_message_at > followers.last_message_at) \
         THEN excluded.last_message_at ELSE followers.last_message_at END, \
     messages = followers.messages + excluded.messages";

/// The columns of a logged push, in the order of [`Row`].
pub(crate) const COLUMNS: &str = "id, at, appid, openid, msg_type, event, msg_id, content, rule, \
     reply_type, reply, latency_ms, mode, source, event_key";

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
    /// Where the answer came from (`fresh`, `coalesced`, `cached`, `kf`, `parked`, ...).
    pub source: String,
    /// Whether the push opens the follower's 48-hour 客服 window (a message, a menu click, a
    /// scan, a subscribe): kept as the follower's `last_message_at`, not as a column here.
    pub opens_window: bool,
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

impl SqlMessageLog {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Appends `entry` (cutting `content` and `reply` to [`LOG_TEXT_MAX_BYTES`]), updates the
    /// follower as [`SqlMessageLog::log_batch`] does, and returns the entry's row id.
    ///
    /// # Errors
    ///
    /// The statement failed; the caller should log it and carry on.
    pub async fn log_message(&self, entry: &MessageLogEntry) -> Result<i64, StoreError> {
        let ids = self.log_batch(std::slice::from_ref(entry)).await?;
        // One row in, one id out: the statement returns the id of every row it inserts.
        Ok(ids.first().copied().unwrap_or_default())
    }

    /// Appends `entries` in one transaction (cutting `content` and `reply` to
    /// [`LOG_TEXT_MAX_BYTES`]) and keeps their followers up to date: each follower's
    /// `last_seen_at`, `last_message_at` (pushes that open the 客服 window) and push count, and
    /// every subscribe / unsubscribe in `follower_events` and the follower's state, as
    /// [`SqlFollowers::follower_event`](crate::SqlFollowers::follower_event) records them.
    /// A follower first seen through a message is recorded as subscribed.
    ///
    /// Returns the new rows' ids, ascending.
    ///
    /// # Errors
    ///
    /// A statement failed; nothing of the batch was written.
    pub async fn log_batch(&self, entries: &[MessageLogEntry]) -> Result<Vec<i64>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = match &self.db {
            Db::Sqlite(_) => Placeholders::Anonymous,
            Db::Postgres(_) => Placeholders::Numbered,
        };
        with_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            let mut ids = Vec::with_capacity(entries.len());
            for chunk in entries.chunks(ROWS_PER_STATEMENT) {
                // The text is the same for every full chunk, so the prepared statement is reused.
                let sql = sqlx::AssertSqlSafe(insert_statement(chunk.len(), placeholders));
                let mut query = sqlx::query_scalar::<_, i64>(sql);
                for entry in chunk {
                    query = query
                        .bind(entry.at)
                        .bind(entry.appid.as_str())
                        .bind(entry.openid.as_str())
                        .bind(entry.msg_type.as_str())
                        .bind(entry.event.as_deref())
                        .bind(entry.msg_id.map(|id| id.to_string()))
                        .bind(entry.content.as_deref().map(truncate))
                        .bind(entry.rule.as_deref())
                        .bind(entry.reply_type.as_deref())
                        .bind(entry.reply.as_deref().map(truncate))
                        .bind(latency(entry))
                        .bind(entry.mode.as_str())
                        .bind(entry.source.as_str())
                        .bind(entry.event_key.as_deref());
                }
                ids.extend(query.fetch_all(&mut *tx).await?);
            }
            for change in subscriptions(entries) {
                sqlx::query(INSERT_EVENT)
                    .bind(change.appid)
                    .bind(change.openid)
                    .bind(change.subscribed)
                    .bind(change.at)
                    .bind(change.scene)
                    .execute(&mut *tx)
                    .await?;
                let (subscribed_at, unsubscribed_at) = change.times();
                sqlx::query(UPSERT_STATE)
                    .bind(change.appid)
                    .bind(change.openid)
                    .bind(change.subscribed)
                    .bind(change.at)
                    .bind(subscribed_at)
                    .bind(unsubscribed_at)
                    .bind(change.scene)
                    .execute(&mut *tx)
                    .await?;
            }
            for activity in activities(entries) {
                sqlx::query(UPSERT_ACTIVITY)
                    .bind(activity.appid)
                    .bind(activity.openid)
                    .bind(true)
                    .bind(activity.first_at)
                    .bind(activity.last_at)
                    .bind(activity.last_message_at)
                    .bind(activity.pushes)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            ids.sort_unstable();
            Ok::<_, sqlx::Error>(ids)
        }.await)
        .map_err(|e| {
            op_error(
                &self.db,
                "log_batch",
                &format!("{} entries", entries.len()),
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
            let sql = format!("SELECT {COLUMNS} FROM message_log ORDER BY id DESC LIMIT $1");
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)).fetch_all(pool).await
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
            // Not a column: what the follower's `last_message_at` keeps.
            opens_window: false,
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

/// How the multi-row insert names its parameters. SQLite looks a named parameter (`$7`) up by
/// scanning all of the statement's names, so binding a 900-parameter insert by name costs
/// quadratic time; anonymous `?` parameters are bound by position. PostgreSQL needs `$n`.
#[derive(Debug, Clone, Copy)]
enum Placeholders {
    Anonymous,
    Numbered,
}

/// The multi-row insert of `rows` entries, returning their ids.
fn insert_statement(rows: usize, placeholders: Placeholders) -> String {
    let mut sql = String::with_capacity(INSERT_COLUMNS.len() + rows * VALUES_PER_ROW * 5 + 16);
    sql.push_str(INSERT_COLUMNS);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..VALUES_PER_ROW {
            if column > 0 {
                sql.push_str(", ");
            }
            match placeholders {
                Placeholders::Anonymous => sql.push('?'),
                // Writing to a String cannot fail.
                Placeholders::Numbered => {
                    let _ = write!(sql, "${}", row * VALUES_PER_ROW + column + 1);
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(" RETURNING id");
    sql
}

/// An entry's latency for the `BIGINT` column, saturating.
fn latency(entry: &MessageLogEntry) -> i64 {
    i64::try_from(entry.latency_ms).unwrap_or(i64::MAX)
}

/// A subscribe or unsubscribe found among logged pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Subscription<'a> {
    appid: &'a str,
    openid: &'a str,
    subscribed: bool,
    at: i64,
    /// The scene of a subscribe (its EventKey, e.g. `qrscene_42`).
    scene: Option<&'a str>,
}

impl Subscription<'_> {
    /// `(subscribed_at, unsubscribed_at)` as the follower's state records them.
    fn times(&self) -> (Option<i64>, Option<i64>) {
        if self.subscribed {
            (Some(self.at), None)
        } else {
            (None, Some(self.at))
        }
    }
}

/// The subscribes and unsubscribes among `entries`, in order.
fn subscriptions(entries: &[MessageLogEntry]) -> impl Iterator<Item = Subscription<'_>> {
    entries.iter().filter_map(|entry| {
        let event = entry.event.as_deref()?;
        let subscribed = if event.eq_ignore_ascii_case("subscribe") {
            true
        } else if event.eq_ignore_ascii_case("unsubscribe") {
            false
        } else {
            return None;
        };
        Some(Subscription {
            appid: &entry.appid,
            openid: &entry.openid,
            subscribed,
            at: entry.at,
            scene: entry
                .event_key
                .as_deref()
                .filter(|key| subscribed && !key.is_empty()),
        })
    })
}

/// What one follower did in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Activity<'a> {
    appid: &'a str,
    openid: &'a str,
    first_at: i64,
    last_at: i64,
    last_message_at: Option<i64>,
    pushes: i64,
}

/// Each follower's activity in `entries`, sorted by follower (so concurrent batches update
/// followers' rows in one order and cannot deadlock on PostgreSQL).
fn activities(entries: &[MessageLogEntry]) -> Vec<Activity<'_>> {
    let mut sorted: Vec<&MessageLogEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| (&a.appid, &a.openid).cmp(&(&b.appid, &b.openid)));
    let mut activities: Vec<Activity<'_>> = Vec::new();
    for entry in sorted {
        let message_at = entry.opens_window.then_some(entry.at);
        match activities.last_mut() {
            Some(last) if last.openid == entry.openid && last.appid == entry.appid => {
                last.first_at = last.first_at.min(entry.at);
                last.last_at = last.last_at.max(entry.at);
                last.last_message_at = last.last_message_at.max(message_at);
                last.pushes += 1;
            }
            _ => activities.push(Activity {
                appid: &entry.appid,
                openid: &entry.openid,
                first_at: entry.at,
                last_at: entry.at,
                last_message_at: message_at,
                pushes: 1,
            }),
        }
    }
    activities
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
