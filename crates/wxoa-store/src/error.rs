//! Errors from opening a store (URL, directory, connection, migrations).

use std::path::PathBuf;

/// Why a store could not be opened, migrated or inspected.
///
/// Every variant names the store URL with its password replaced by `***`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreOpenError {
    /// The URL is not one wxoa understands.
    #[error("store URL `{url}` is invalid: {reason}")]
    InvalidUrl {
        /// The URL as configured, password redacted.
        url: String,
        /// What is wrong with it and what to write instead.
        reason: String,
    },
    /// The directory that should hold the SQLite file could not be created.
    #[error("store `{url}`: cannot create the directory {} for the database file: {source}", dir.display())]
    CreateDir {
        /// The URL as configured.
        url: String,
        /// The directory that could not be created.
        dir: PathBuf,
        /// The underlying I/O error (permissions, read-only file system, ...).
        #[source]
        source: std::io::Error,
    },
    /// Connecting to the database failed (file not writable, server down, wrong credentials, ...).
    #[error("store `{url}`: cannot connect: {}", describe(source))]
    Connect {
        /// The URL as configured, password redacted.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error(
        "store `{url}`: cannot apply the database migrations: {source} (if the database was created by a newer wxoa, upgrade this binary)"
    )]
    Migrate {
        /// The URL as configured, password redacted.
        url: String,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// Reading the applied migrations failed.
    #[error(
        "store `{url}`: cannot read the applied migrations: {}",
        describe(source)
    )]
    Inspect {
        /// The URL as configured, password redacted.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Connecting to Redis failed.
    #[error("redis `{url}`: cannot connect: {source}")]
    Redis {
        /// The URL as configured, password redacted.
        url: String,
        /// The client's error.
        #[source]
        source: ::redis::RedisError,
    },
}

/// The driver's message: for a server-side error its text and code only (sqlx's own display
/// adds the server's source-file position, which means nothing to an operator).
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}

/// Stored data that does not decode (a session that is not a JSON object, a parked entry that
/// is not the expected JSON): written by something other than this crate, or damaged.
#[derive(Debug, thiserror::Error)]
#[error(
    "{backend} {op} of `{key}`: the stored value is not valid ({source}); it was not written by wxoa or is damaged: delete it"
)]
pub(crate) struct DataError {
    pub(crate) backend: &'static str,
    pub(crate) op: &'static str,
    pub(crate) key: String,
    #[source]
    pub(crate) source: serde_json::Error,
}

impl DataError {
    /// Wraps `source` as a [`wxoa_api::StoreError`].
    pub(crate) fn store_error(
        backend: &'static str,
        op: &'static str,
        key: &str,
        source: serde_json::Error,
    ) -> wxoa_api::StoreError {
        wxoa_api::StoreError(Box::new(Self {
            backend,
            op,
            key: key.to_owned(),
            source,
        }))
    }
}
