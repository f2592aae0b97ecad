//! Searching the message log for the console: filters, keyset paging, newest first.

use wxoa_api::StoreError;

use crate::sql::filters::{Param, bind_params, like_pattern, push};
use crate::sql::message_log::{COLUMNS, LoggedMessage, Row, from_row};
use crate::sql::{Db, op_error, with_pool};

/// The most rows one search returns.
pub const MAX_SEARCH_LIMIT: u32 = 200;

/// What to look for in the message log; every field is optional and the given ones must all
/// hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageQuery {
    /// The account (with `openid`, a follower's conversation reads the follower index).
    pub appid: Option<String>,
    /// The follower.
    pub openid: Option<String>,
    /// The rule that answered.
    pub rule: Option<String>,
    /// MsgType (`text`, `event`, ...).
    pub msg_type: Option<String>,
    /// Text contained in the content or the reply (matched literally, case as written).
    pub text: Option<String>,
    /// Logged at or after this Unix second.
    pub since: Option<i64>,
    /// Logged at or before this Unix second.
    pub until: Option<i64>,
    /// Rows older than this row id (the next page of a listing).
    pub before_id: Option<i64>,
    /// Rows newer than this row id (a live view polling with the highest id it has).
    pub after_id: Option<i64>,
    /// How many rows at most (1 to [`MAX_SEARCH_LIMIT`]; larger values are capped).
    pub limit: u32,
}

/// One page of a search: the rows, newest first, and whether more match beyond them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePage {
    /// The rows, newest first.
    pub messages: Vec<LoggedMessage>,
    /// Whether older rows also match (ask again with `before_id` = the last row's id).
    pub has_more: bool,
}

/// Read access to the message log for the console (the writer is [`SqlMessageLog`]).
///
/// [`SqlMessageLog`]: crate::SqlMessageLog
#[derive(Debug, Clone)]
pub struct SqlMessageSearch {
    db: Db,
}

impl SqlMessageSearch {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// The rows matching `query`, newest first, at most `query.limit` (1–200).
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn search(&self, query: &MessageQuery) -> Result<MessagePage, StoreError> {
        let limit = query.limit.clamp(1, MAX_SEARCH_LIMIT);
        let (sql, params) = build(query, limit);
        let mut rows: Vec<Row> = with_pool!(&self.db, pool => {
            bind_params!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), params)
                .fetch_all(pool)
                .await
        })
        .map_err(|e| op_error(&self.db, "search_messages", "message_log", e))?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(MessagePage {
            messages: rows.into_iter().map(from_row).collect(),
            has_more,
        })
    }
}

/// The statement and its binds; one row more than `limit` is asked for, to tell `has_more`.
fn build(query: &MessageQuery, limit: u32) -> (String, Vec<Param>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let equal = [
        ("appid", &query.appid),
        ("openid", &query.openid),
        ("rule", &query.rule),
        ("msg_type", &query.msg_type),
    ];
    for (column, value) in equal {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            let n = push(&mut params, Param::Text(v.to_owned()));
            conditions.push(format!("{column} = {n}"));
        }
    }
    if let Some(text) = query.text.as_deref().filter(|t| !t.is_empty()) {
        let n = push(&mut params, Param::Text(like_pattern(text)));
        conditions.push(format!(
            "(content LIKE {n} ESCAPE '\\' OR reply LIKE {n} ESCAPE '\\')"
        ));
    }
    let ranges = [
        ("at >=", query.since),
        ("at <=", query.until),
        ("id <", query.before_id),
        ("id >", query.after_id),
    ];
    for (test, value) in ranges {
        if let Some(v) = value {
            let n = push(&mut params, Param::Int(v));
            conditions.push(format!("{test} {n}"));
        }
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let n = push(&mut params, Param::Int(i64::from(limit) + 1));
    let sql = format!("SELECT {COLUMNS} FROM message_log{filter} ORDER BY id DESC LIMIT {n}");
    (sql, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_numbers_binds_in_order() {
        let query = MessageQuery {
            appid: Some("wx1".into()),
            openid: Some("o1".into()),
            text: Some("hi".into()),
            before_id: Some(9),
            ..MessageQuery::default()
        };
        let (sql, params) = build(&query, 50);
        assert!(sql.contains("appid = $1 AND openid = $2"), "{sql}");
        assert!(sql.contains("content LIKE $3"), "{sql}");
        assert!(sql.contains("id < $4"), "{sql}");
        assert!(sql.ends_with("ORDER BY id DESC LIMIT $5"), "{sql}");
        assert_eq!(params.len(), 5);
    }
}
