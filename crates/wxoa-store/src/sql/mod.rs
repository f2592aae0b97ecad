//! The SQL backends (SQLite, PostgreSQL) and the stores built on them, one module per concept.

mod token;

pub use self::token::SqlTokenStore;

use sqlx::{PgPool, SqlitePool};

/// A connection pool to one of the supported SQL databases.
///
/// Each store module writes its statements once per backend (placeholders and a few functions
/// differ) and matches on this.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// SQLite (file in WAL mode, or in memory).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl Db {
    /// The backend's name for messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}
