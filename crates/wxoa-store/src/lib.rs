//! wxoa persistence: the SQL store (SQLite by default, or PostgreSQL) and the optional Redis store.
//!
//! # Layout
//!
//! - [`Store`] (`store.rs`): opens `store.url` — `sqlite://path` (relative to the config
//!   directory; WAL, busy timeout, foreign keys) or `postgres://…` — and runs the embedded
//!   migrations (`migrations/sqlite`, `migrations/postgres`, one numbered file per feature).
//!   [`Store::check_migrations`] reports whether the database matches this build.
//! - `sql/`: one module per stored concept, each working on both SQL backends through the
//!   runtime query API. `sql/token.rs` holds [`SqlTokenStore`], the access-token cache, refresh
//!   lock and daily fetch counter shared by every process on a host. Per-follower sessions and
//!   parked results will sit beside it (`sql/session.rs`, `sql/parked.rs`) with their own
//!   migrations.
//! - `redis/`: [`RedisStore`] (one reconnecting connection and a key prefix, default `wxoa:`)
//!   and its per-concept modules; `redis/token.rs` holds [`RedisTokenStore`], the same token
//!   store shared by instances on several hosts.
//! - `dsn.rs`: parsing of store URLs and their password-free display for messages.
//!
//! Both token stores implement [`wxoa_api::TokenStore`]: every operation is one atomic
//! statement (SQL upserts guarded by `WHERE`, Redis `SET NX PX` and compare-and-delete
//! scripts), so any number of processes agree on one lock holder and one token. Both pass
//! `wxoa_api::conformance::check_token_store`.

mod dsn;
mod error;
mod redis;
mod sql;
mod store;

pub use crate::error::StoreOpenError;
pub use crate::redis::{RedisStore, RedisTokenStore};
pub use crate::sql::SqlTokenStore;
pub use crate::store::{Backend, MigrationStatus, PendingMigration, Store};
