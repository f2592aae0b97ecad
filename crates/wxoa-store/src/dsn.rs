//! Parsing of store URLs (`sqlite://…`, `postgres://…`, `redis://…`) and their display without secrets.

use std::path::{Path, PathBuf};

use ::url::Url;

/// Where a SQL store lives, as parsed from `store.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqlDsn {
    /// A SQLite database file, resolved against the base directory.
    SqliteFile {
        /// The file.
        path: PathBuf,
        /// Whether the URL gave a relative path (the message then shows the resolved one).
        relative: bool,
    },
    /// A private in-memory SQLite database (one connection; gone when the store is dropped).
    SqliteMemory,
    /// A PostgreSQL connection URL, passed to sqlx as written.
    Postgres(String),
}

/// Why a store URL was refused (the caller adds the redacted URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DsnError(pub(crate) String);

/// Parses a SQL store URL; relative SQLite paths are resolved against `base_dir`.
pub(crate) fn parse_sql(url: &str, base_dir: &Path) -> Result<SqlDsn, DsnError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(SqlDsn::Postgres(url.to_owned()));
    }
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        return Err(DsnError(if scheme.is_empty() {
            "not a URL; expected sqlite://PATH (e.g. sqlite://data/wxoa.db) or postgres://USER@HOST/DB"
                .to_owned()
        } else {
            format!(
                "unsupported scheme `{scheme}`; expected sqlite://PATH (e.g. sqlite://data/wxoa.db) or postgres://USER@HOST/DB"
            )
        }));
    };
    if rest.contains('?') || rest.contains('#') {
        return Err(DsnError(
            "query parameters are not supported in a SQLite URL (wxoa sets WAL, busy timeout and foreign keys itself); write just sqlite://PATH"
                .to_owned(),
        ));
    }
    if rest == ":memory:" {
        return Ok(SqlDsn::SqliteMemory);
    }
    if rest.is_empty() {
        return Err(DsnError(
            "no database file; write sqlite://PATH, e.g. sqlite://data/wxoa.db (relative to the config file's directory) or sqlite:///var/lib/wxoa/wxoa.db"
                .to_owned(),
        ));
    }
    if rest.ends_with('/') {
        return Err(DsnError(format!(
            "`{rest}` names a directory; add a file name, e.g. sqlite://{rest}wxoa.db"
        )));
    }
    let path = Path::new(rest);
    let relative = !path.is_absolute();
    let path = if relative {
        base_dir.join(path)
    } else {
        path.to_path_buf()
    };
    Ok(SqlDsn::SqliteFile { path, relative })
}

/// The URL with any password (in the user part or a `password=` parameter) replaced by `***`,
/// fit for error messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() => {
            if parsed.password().is_some() {
                // Cannot fail: the URL has a host.
                let _ = parsed.set_password(Some("***"));
            }
            if parsed.query().is_some() {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k.eq_ignore_ascii_case("password") {
                            "***".to_owned()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        _ => redact_by_hand(url),
    }
}

/// Fallback for strings the URL parser refuses: hide everything after `user:` up to the last `@`.
fn redact_by_hand(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_relative_path_resolves_against_base_dir() {
        let dsn = parse_sql("sqlite://data/wxoa.db", Path::new("/etc/wxoa")).unwrap();
        assert_eq!(
            dsn,
            SqlDsn::SqliteFile {
                path: PathBuf::from("/etc/wxoa/data/wxoa.db"),
                relative: true
            }
        );
        let dsn = parse_sql("sqlite:wxoa.db", Path::new("/srv")).unwrap();
        assert_eq!(
            dsn,
            SqlDsn::SqliteFile {
                path: PathBuf::from("/srv/wxoa.db"),
                relative: true
            }
        );
    }

    #[test]
    fn sqlite_absolute_path_is_kept() {
        let dsn = parse_sql("sqlite:///var/lib/wxoa/wxoa.db", Path::new("/etc")).unwrap();
        assert_eq!(
            dsn,
            SqlDsn::SqliteFile {
                path: PathBuf::from("/var/lib/wxoa/wxoa.db"),
                relative: false
            }
        );
    }

    #[test]
    fn sqlite_memory_and_postgres() {
        assert_eq!(
            parse_sql("sqlite::memory:", Path::new(".")).unwrap(),
            SqlDsn::SqliteMemory
        );
        assert_eq!(
            parse_sql("postgresql://u@h/db", Path::new(".")).unwrap(),
            SqlDsn::Postgres("postgresql://u@h/db".to_owned())
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let base = Path::new(".");
        assert!(
            parse_sql("mysql://h/db", base)
                .unwrap_err()
                .0
                .contains("`mysql`")
        );
        assert!(
            parse_sql("wxoa.db", base)
                .unwrap_err()
                .0
                .contains("not a URL")
        );
        assert!(
            parse_sql("sqlite://", base)
                .unwrap_err()
                .0
                .contains("no database file")
        );
        assert!(
            parse_sql("sqlite://data/", base)
                .unwrap_err()
                .0
                .contains("directory")
        );
        assert!(
            parse_sql("sqlite://a.db?mode=ro", base)
                .unwrap_err()
                .0
                .contains("query")
        );
    }

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(
            redact("postgres://wx:s3cret@db.example/wxoa"),
            "postgres://wx:***@db.example/wxoa"
        );
        assert_eq!(
            redact("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redact("postgres://wx@h/db?password=s3cret&sslmode=require"),
            "postgres://wx@h/db?password=***&sslmode=require"
        );
        assert_eq!(redact("postgres://wx@h/db"), "postgres://wx@h/db");
        assert_eq!(redact("sqlite://data/wxoa.db"), "sqlite://data/wxoa.db");
        assert!(!redact("postgres://wx:s3cret@[bad/db").contains("s3cret"));
    }
}
