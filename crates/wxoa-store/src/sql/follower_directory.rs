//! The console's view of the followers: listing, search, paging, one follower's record, the
//! owner's remark and tags, and merging the platform's follower list in.

use wxoa_api::StoreError;

use crate::sql::filters::{Param, bind_params, like_pattern};
use crate::sql::{Db, op_error, with_pool};

/// The most followers on one page.
pub const MAX_PER_PAGE: u32 = 200;

const COLUMNS: &str = "openid, subscribed, first_seen_at, last_seen_at, last_message_at, \
     subscribed_at, unsubscribed_at, scene, remark, tags, messages";

const SET_REMARK: &str = "UPDATE followers SET remark = $3 WHERE appid = $1 AND openid = $2";
const SET_TAGS: &str = "UPDATE followers SET tags = $3 WHERE appid = $1 AND openid = $2";

/// A follower seen on the platform's list: added when unknown, their remark and subscribe
/// details filled in when known. What pushes recorded (last seen, messages) is kept.
const MERGE: &str = "INSERT INTO followers \
     (appid, openid, subscribed, first_seen_at, subscribed_at, scene, updated_at, remark) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (appid, openid) DO UPDATE SET \
     subscribed = CASE WHEN excluded.updated_at >= followers.updated_at \
         THEN excluded.subscribed ELSE followers.subscribed END, \
     updated_at = CASE WHEN excluded.updated_at >= followers.updated_at \
         THEN excluded.updated_at ELSE followers.updated_at END, \
     first_seen_at = CASE WHEN excluded.first_seen_at < followers.first_seen_at \
         THEN excluded.first_seen_at ELSE followers.first_seen_at END, \
     subscribed_at = COALESCE(followers.subscribed_at, excluded.subscribed_at), \
     scene = COALESCE(followers.scene, excluded.scene), \
     remark = COALESCE(excluded.remark, followers.remark)";

/// Followers still marked subscribed whose state predates a complete read of the platform's
/// list: they were not on it, so they have left.
const MARK_MISSING: &str = "UPDATE followers SET subscribed = $3, unsubscribed_at = $2, \
     updated_at = $2 WHERE appid = $1 AND subscribed = $4 AND updated_at < $2";

/// A follower as the console shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerRecord {
    /// The follower's openid.
    pub openid: String,
    /// Whether they follow the account now (as far as pushes and refreshes tell).
    pub subscribed: bool,
    /// Unix seconds of the first event seen.
    pub first_seen_at: i64,
    /// Unix seconds of their latest push of any kind.
    pub last_seen_at: Option<i64>,
    /// Unix seconds of their latest message (the 48-hour 客服 window starts there).
    pub last_message_at: Option<i64>,
    /// Unix seconds of the latest subscribe.
    pub subscribed_at: Option<i64>,
    /// Unix seconds of the latest unsubscribe.
    pub unsubscribed_at: Option<i64>,
    /// The scene of the latest subscribe.
    pub scene: Option<String>,
    /// The owner's remark.
    pub remark: Option<String>,
    /// The owner's tags.
    pub tags: Vec<String>,
    /// How many pushes of theirs were logged.
    pub messages: u64,
}

type RecordRow = (
    String,
    bool,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
    i64,
);

fn from_row(row: RecordRow) -> FollowerRecord {
    let (
        openid,
        subscribed,
        first_seen_at,
        last_seen_at,
        last_message_at,
        subscribed_at,
        unsubscribed_at,
        scene,
        remark,
        tags,
        messages,
    ) = row;
    FollowerRecord {
        openid,
        subscribed,
        first_seen_at,
        last_seen_at,
        last_message_at,
        subscribed_at,
        unsubscribed_at,
        scene,
        remark,
        // The column is written only as a JSON array; anything else reads as no tags.
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        messages: u64::try_from(messages).unwrap_or_default(),
    }
}

/// Which followers to list; the given filters must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowerQuery {
    /// Text in the openid or the remark.
    pub text: Option<String>,
    /// Subscribed now (`true`) or not (`false`).
    pub subscribed: Option<bool>,
    /// Carries this tag.
    pub tag: Option<String>,
    /// The page, from 1.
    pub page: u32,
    /// Followers per page (1 to [`MAX_PER_PAGE`]; larger values are capped).
    pub per_page: u32,
}

/// One page of followers, most recently seen first, and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerList {
    /// The followers of the page.
    pub followers: Vec<FollowerRecord>,
    /// Followers matching the query on every page.
    pub total: u64,
}

/// A follower as the platform's list and user info give them, for
/// [`SqlFollowerDirectory::merge_platform_follower`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFollower {
    /// The openid.
    pub openid: String,
    /// Whether they follow the account.
    pub subscribed: bool,
    /// Unix seconds of their latest follow, when known.
    pub subscribe_time: Option<i64>,
    /// How they followed (`ADD_SCENE_QR_CODE`, ...), when known.
    pub scene: Option<String>,
    /// The remark set on the platform (`None` or empty: keep ours).
    pub remark: Option<String>,
}

/// The followers table as the console reads and annotates it (the writer of activity is
/// [`SqlFollowers`](crate::SqlFollowers)).
#[derive(Debug, Clone)]
pub struct SqlFollowerDirectory {
    db: Db,
}

impl SqlFollowerDirectory {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// A page of the followers of `appid` matching `query`, most recently seen first.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn list(
        &self,
        appid: &str,
        query: &FollowerQuery,
    ) -> Result<FollowerList, StoreError> {
        let per_page = query.per_page.clamp(1, MAX_PER_PAGE);
        let page = query.page.max(1);
        let (filter, mut params) = filter(appid, query);
        let count_sql = format!("SELECT COUNT(*) FROM followers WHERE {filter}");
        let count_params = params.clone();
        params.push(Param::Int(i64::from(per_page)));
        let limit = params.len();
        params.push(Param::Int(i64::from(page - 1) * i64::from(per_page)));
        let offset = params.len();
        let list_sql = format!(
            "SELECT {COLUMNS} FROM followers WHERE {filter} \
             ORDER BY COALESCE(last_seen_at, updated_at) DESC, openid LIMIT ${limit} OFFSET ${offset}"
        );
        let fail = |e| op_error(&self.db, "list_followers", appid, e);
        let total: i64 = with_pool!(&self.db, pool => {
            bind_params!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql)), count_params)
                .fetch_one(pool)
                .await
        })
        .map_err(fail)?;
        let rows: Vec<RecordRow> = with_pool!(&self.db, pool => {
            bind_params!(sqlx::query_as(sqlx::AssertSqlSafe(list_sql)), params)
                .fetch_all(pool)
                .await
        })
        .map_err(fail)?;
        Ok(FollowerList {
            followers: rows.into_iter().map(from_row).collect(),
            total: u64::try_from(total).unwrap_or_default(),
        })
    }

    /// One follower of `appid`, `None` when never seen.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn get(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Option<FollowerRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM followers WHERE appid = $1 AND openid = $2");
        let row: Option<RecordRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(appid).bind(openid).fetch_optional(pool).await
        })
        .map_err(|e| op_error(&self.db, "get_follower", &format!("{appid}/{openid}"), e))?;
        Ok(row.map(from_row))
    }

    /// Sets the owner's remark and/or tags of a follower (a `None` leaves that one as it is);
    /// returns the follower as now stored, `None` when never seen (nothing is written then).
    ///
    /// # Errors
    ///
    /// A statement failed.
    pub async fn annotate(
        &self,
        appid: &str,
        openid: &str,
        remark: Option<&str>,
        tags: Option<&[String]>,
    ) -> Result<Option<FollowerRecord>, StoreError> {
        let key = format!("{appid}/{openid}");
        if let Some(remark) = remark {
            with_pool!(&self.db, pool => {
                sqlx::query(SET_REMARK).bind(appid).bind(openid).bind(remark).execute(pool).await.map(drop)
            })
            .map_err(|e| op_error(&self.db, "set_remark", &key, e))?;
        }
        if let Some(tags) = tags {
            let json = serde_json::Value::from(tags.to_vec()).to_string();
            with_pool!(&self.db, pool => {
                sqlx::query(SET_TAGS).bind(appid).bind(openid).bind(&json).execute(pool).await.map(drop)
            })
            .map_err(|e| op_error(&self.db, "set_tags", &key, e))?;
        }
        self.get(appid, openid).await
    }

    /// Records a follower seen on the platform's list at `observed_at` (Unix seconds): added
    /// when unknown; otherwise their subscription follows the platform unless a newer push
    /// said otherwise, the remark is taken when the platform has one, and what pushes
    /// recorded is kept.
    ///
    /// # Errors
    ///
    /// The statement failed.
    pub async fn merge_platform_follower(
        &self,
        appid: &str,
        follower: &PlatformFollower,
        observed_at: i64,
    ) -> Result<(), StoreError> {
        let first_seen = follower.subscribe_time.unwrap_or(observed_at);
        let remark = follower.remark.as_deref().filter(|r| !r.is_empty());
        let scene = follower.scene.as_deref().filter(|s| !s.is_empty());
        with_pool!(&self.db, pool => {
            sqlx::query(MERGE)
                .bind(appid)
                .bind(&follower.openid)
                .bind(follower.subscribed)
                .bind(first_seen)
                .bind(follower.subscribe_time)
                .bind(scene)
                .bind(observed_at)
                .bind(remark)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(|e| {
            op_error(
                &self.db,
                "merge_platform_follower",
                &format!("{appid}/{}", follower.openid),
                e,
            )
        })
    }
}

impl SqlFollowerDirectory {
    /// After every follower on the platform's list was merged with an `observed_at` of at
    /// least `started_at`: marks the followers of `appid` that are still subscribed but were
    /// not seen since `started_at` as unsubscribed at `started_at`; returns how many.
    ///
    /// # Errors
    ///
    /// The statement failed.
    pub async fn mark_missing_unsubscribed(
        &self,
        appid: &str,
        started_at: i64,
    ) -> Result<u64, StoreError> {
        with_pool!(&self.db, pool => {
            sqlx::query(MARK_MISSING)
                .bind(appid)
                .bind(started_at)
                .bind(false)
                .bind(true)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(|e| op_error(&self.db, "mark_missing_unsubscribed", appid, e))
    }
}

/// The WHERE clause of a listing and its binds (`$1` is the appid).
fn filter(appid: &str, query: &FollowerQuery) -> (String, Vec<Param>) {
    let mut params = vec![Param::Text(appid.to_owned())];
    let mut conditions = vec!["appid = $1".to_owned()];
    if let Some(text) = query.text.as_deref().filter(|t| !t.is_empty()) {
        params.push(Param::Text(like_pattern(text)));
        let n = params.len();
        conditions.push(format!(
            "(openid LIKE ${n} ESCAPE '\\' OR remark LIKE ${n} ESCAPE '\\')"
        ));
    }
    if let Some(subscribed) = query.subscribed {
        params.push(Param::Bool(subscribed));
        conditions.push(format!("subscribed = ${}", params.len()));
    }
    if let Some(tag) = query.tag.as_deref().filter(|t| !t.is_empty()) {
        // Tags are a JSON array of strings: look for the tag as a whole JSON string.
        params.push(Param::Text(like_pattern(
            &serde_json::Value::from(tag).to_string(),
        )));
        conditions.push(format!("tags LIKE ${} ESCAPE '\\'", params.len()));
    }
    (conditions.join(" AND "), params)
}
