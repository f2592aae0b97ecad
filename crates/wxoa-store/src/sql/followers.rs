//! Followers on SQLite / PostgreSQL: the subscribe/unsubscribe timeline and each follower's state.

use wxoa_api::StoreError;

use crate::sql::{Db, op_error, with_pool};

pub(crate) const INSERT_EVENT: &str = "INSERT INTO follower_events (appid, openid, subscribed, at, scene) \
     VALUES ($1, $2, $3, $4, $5)";

/// The follower's state after one more event. Events may arrive out of order (the platform's
/// retries, several processes): each column keeps what the newest event relevant to it says.
pub(crate) const UPSERT_STATE: &str = "INSERT INTO followers \
     (appid, openid, subscribed, first_seen_at, subscribed_at, unsubscribed_at, scene, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $4) \
     ON CONFLICT (appid, openid) DO UPDATE SET \
     subscribed = CASE WHEN excluded.updated_at >= followers.updated_at \
         THEN excluded.subscribed ELSE followers.subscribed END, \
     updated_at = CASE WHEN excluded.updated_at >= followers.updated_at \
         THEN excluded.updated_at ELSE followers.updated_at END, \
     first_seen_at = CASE WHEN excluded.first_seen_at < followers.first_seen_at \
         THEN excluded.first_seen_at ELSE followers.first_seen_at END, \
     scene = CASE WHEN excluded.subscribed_at IS NOT NULL \
             AND (followers.subscribed_at IS NULL OR excluded.subscribed_at >= followers.subscribed_at) \
         THEN excluded.scene ELSE followers.scene END, \
     subscribed_at = CASE WHEN excluded.subscribed_at IS NOT NULL \
             AND (followers.subscribed_at IS NULL OR excluded.subscribed_at >= followers.subscribed_at) \
         THEN excluded.subscribed_at ELSE followers.subscribed_at END, \
     unsubscribed_at = CASE WHEN excluded.unsubscribed_at IS NOT NULL \
             AND (followers.unsubscribed_at IS NULL OR excluded.unsubscribed_at >= followers.unsubscribed_at) \
         THEN excluded.unsubscribed_at ELSE followers.unsubscribed_at END";

const STATE: &str = "SELECT subscribed, first_seen_at, subscribed_at, unsubscribed_at, scene, \
     updated_at, last_seen_at, last_message_at, messages FROM followers WHERE appid = $1 AND openid = $2";

const EVENTS: &str = "SELECT subscribed, at, scene FROM follower_events \
     WHERE appid = $1 AND openid = $2 ORDER BY at, id";

const COUNT: &str = "SELECT COUNT(*) FROM followers WHERE appid = $1 AND subscribed = $2";

/// A follower's current state, kept by [`SqlFollowers::follower_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    /// Whether the latest event was a subscribe.
    pub subscribed: bool,
    /// Unix seconds of the earliest event seen.
    pub first_seen_at: i64,
    /// Unix seconds of the latest subscribe.
    pub subscribed_at: Option<i64>,
    /// Unix seconds of the latest unsubscribe.
    pub unsubscribed_at: Option<i64>,
    /// The scene of the latest subscribe (e.g. a QR code's scene), when given.
    pub scene: Option<String>,
    /// Unix seconds of the latest subscribe or unsubscribe.
    pub updated_at: i64,
    /// Unix seconds of the follower's latest logged push of any kind.
    pub last_seen_at: Option<i64>,
    /// Unix seconds of the follower's latest push that opens the 48-hour 客服 window (a
    /// message, a menu click, a scan, a subscribe).
    pub last_message_at: Option<i64>,
    /// How many of the follower's pushes were logged.
    pub messages: i64,
}

/// One subscribe or unsubscribe in a follower's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerEvent {
    /// `true` for subscribe, `false` for unsubscribe.
    pub subscribed: bool,
    /// Unix seconds of the event.
    pub at: i64,
    /// The scene, when given.
    pub scene: Option<String>,
}

/// Followers in the SQL database: every subscribe/unsubscribe (`follower_events`) and each
/// follower's current state (`followers`), for the admin UI.
///
/// Recording must never fail a request: callers log the returned error and go on.
#[derive(Debug, Clone)]
pub struct SqlFollowers {
    db: Db,
}

/// A row of `followers`, in the column order of [`STATE`].
type StateRow = (
    bool,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
);

impl SqlFollowers {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records a subscribe (`subscribed`) or unsubscribe of `openid` at `at` (Unix seconds),
    /// with the subscribe scene (or scanned QR scene) when known: appended to the timeline and
    /// folded into the follower's state, in one transaction.
    ///
    /// # Errors
    ///
    /// A statement failed; nothing was recorded.
    pub async fn follower_event(
        &self,
        appid: &str,
        openid: &str,
        subscribed: bool,
        at: i64,
        scene: Option<&str>,
    ) -> Result<(), StoreError> {
        let (subscribed_at, unsubscribed_at) = if subscribed {
            (Some(at), None)
        } else {
            (None, Some(at))
        };
        let scene = scene.filter(|_| subscribed);
        with_pool!(&self.db, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT_EVENT)
                .bind(appid)
                .bind(openid)
                .bind(subscribed)
                .bind(at)
                .bind(scene)
                .execute(&mut *tx)
                .await?;
            sqlx::query(UPSERT_STATE)
                .bind(appid)
                .bind(openid)
                .bind(subscribed)
                .bind(at)
                .bind(subscribed_at)
                .bind(unsubscribed_at)
                .bind(scene)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }.await)
        .map_err(|e| op_error(&self.db, "follower_event", &format!("{appid}/{openid}"), e))
    }

    /// The follower's current state, `None` when no event of theirs was recorded.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn follower(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Option<Follower>, StoreError> {
        let row: Option<StateRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(STATE).bind(appid).bind(openid).fetch_optional(pool).await
        })
        .map_err(|e| op_error(&self.db, "follower", &format!("{appid}/{openid}"), e))?;
        Ok(row.map(
            |(
                subscribed,
                first_seen_at,
                subscribed_at,
                unsubscribed_at,
                scene,
                updated_at,
                last_seen_at,
                last_message_at,
                messages,
            )| Follower {
                subscribed,
                first_seen_at,
                subscribed_at,
                unsubscribed_at,
                scene,
                updated_at,
                last_seen_at,
                last_message_at,
                messages,
            },
        ))
    }

    /// The follower's subscribes and unsubscribes, oldest first.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn follower_events(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Vec<FollowerEvent>, StoreError> {
        let rows: Vec<(bool, i64, Option<String>)> = with_pool!(&self.db, pool => {
            sqlx::query_as(EVENTS).bind(appid).bind(openid).fetch_all(pool).await
        })
        .map_err(|e| op_error(&self.db, "follower_events", &format!("{appid}/{openid}"), e))?;
        Ok(rows
            .into_iter()
            .map(|(subscribed, at, scene)| FollowerEvent {
                subscribed,
                at,
                scene,
            })
            .collect())
    }

    /// How many followers of `appid` are subscribed (`subscribed`) or have unsubscribed.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn count_followers(&self, appid: &str, subscribed: bool) -> Result<u64, StoreError> {
        let count: i64 = with_pool!(&self.db, pool => {
            sqlx::query_scalar(COUNT).bind(appid).bind(subscribed).fetch_one(pool).await
        })
        .map_err(|e| op_error(&self.db, "count_followers", appid, e))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}
