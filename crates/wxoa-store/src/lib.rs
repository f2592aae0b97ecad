//! wxoa persistence: the SQL store (SQLite by default, or PostgreSQL) and the optional Redis store.
//!
//! # Layout
//!
//! - [`Store`] (`store.rs`): opens `store.url` — `sqlite://path` (relative to the config
//!   directory; WAL, busy timeout, foreign keys) or `postgres://…` — and runs the embedded
//!   migrations (`migrations/sqlite`, `migrations/postgres`, one numbered file per feature).
//!   [`Store::check_migrations`] reports whether the database matches this build.
//! - The contracts shared by the SQL and Redis backends, one file each: [`SharedDedup`]
//!   (`dedup.rs`: dedup and coalescing of the platform's retries across processes),
//!   [`SessionBackend`] (`session.rs`: per-follower JSON maps) and [`ParkingBackend`]
//!   (`parking.rs`: results that missed the 5-second window, kept for the follower's next
//!   message), [`SharedWork`] (`work.rs`: slow work held under a lease another instance
//!   takes over when its holder dies; Redis only).
//! - `sql/`: one module per stored concept, each working on both SQL backends through the
//!   runtime query API, mostly with one statement text for both (`$N` placeholders, which
//!   SQLite accepts too). [`SqlTokenStore`] (`token.rs`: access-token cache, refresh lock,
//!   daily fetch counter), [`SqlDedup`] (`dedup.rs`), [`SqlSessions`] (`session.rs`),
//!   [`SqlParking`] (`parking.rs`), and, SQL only, [`SqlMessageLog`] (`message_log.rs`) and
//!   [`SqlFollowers`] (`followers.rs`) for the admin UI; their read side for the console:
//!   [`SqlMessageSearch`] (`message_search.rs`), [`SqlDashboard`] (`dashboard.rs`),
//!   [`SqlFollowerDirectory`] (`follower_directory.rs`) and [`SqlAudit`] (`audit.rs`).
//! - `redis/`: [`RedisStore`] (one reconnecting connection and a key prefix, default `wxoa:`)
//!   and its per-concept modules: [`RedisTokenStore`], [`RedisDedup`], [`RedisSessions`],
//!   [`RedisParking`], [`RedisWork`], shared by instances on several hosts.
//! - `dsn.rs`: parsing of store URLs and their password-free display for messages.
//!
//! Every shared operation is atomic on the server: SQL upserts guarded by `WHERE` and
//! `DELETE … RETURNING`, Redis `SET NX PX`, Lua scripts and `MULTI`. So any number of
//! processes (CGI: one per request) and instances agree on one lock holder, one handler per
//! push, and one delivery per parked result. Both token stores pass
//! `wxoa_api::conformance::check_token_store`.
//!
//! Errors of the store operations are [`wxoa_api::StoreError`], naming the backend, the
//! operation and the key.

mod dedup;
mod dsn;
mod error;
mod parking;
mod redis;
mod session;
mod sql;
mod store;
mod work;

pub use crate::dedup::{DedupClaim, SharedDedup};
pub use crate::error::StoreOpenError;
pub use crate::parking::{DEFAULT_PARKED_MAX_AGE, Parked, ParkingBackend};
pub use crate::redis::{
    RedisDedup, RedisParking, RedisSessions, RedisStore, RedisTokenStore, RedisWork,
};
pub use crate::session::{DEFAULT_SESSION_TTL, SessionBackend};
pub use crate::sql::{
    AUDIT_DETAIL_MAX_BYTES, AuditEntry, Follower, FollowerEvent, FollowerList, FollowerQuery,
    FollowerRecord, GroupCount, LOG_TEXT_MAX_BYTES, LatencySummary, LoggedMessage, MAX_PER_PAGE,
    MAX_SEARCH_LIMIT, MessageLogEntry, MessagePage, MessageQuery, MinuteCount, PlatformFollower,
    SqlAudit, SqlDashboard, SqlDedup, SqlFollowerDirectory, SqlFollowers, SqlMessageLog,
    SqlMessageSearch, SqlParking, SqlSessions, SqlTokenStore,
};
pub use crate::store::{Backend, MigrationStatus, PendingMigration, Store};
pub use crate::work::{Finish, HandOff, SharedWork, WorkHandoff, WorkRecord};
