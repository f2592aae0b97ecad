//! The audit trail: every change made through the console, who made it and when.

use wxoa_api::StoreError;

use crate::sql::{Db, op_error, with_pool};

/// The longest `detail` kept, in bytes; longer details are cut at a character boundary.
pub const AUDIT_DETAIL_MAX_BYTES: usize = 4096;

const INSERT: &str = "INSERT INTO audit (at, actor, action, target, detail) \
     VALUES ($1, $2, $3, $4, $5) RETURNING id";

const LIST: &str = "SELECT id, at, actor, action, target, detail FROM audit \
     ORDER BY id DESC LIMIT $1";

/// One change: who did what to what, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The row id (0 before it is recorded).
    pub id: i64,
    /// Unix seconds of the change.
    pub at: i64,
    /// Who made it (the admin user or the SSO user name).
    pub actor: String,
    /// What was done: `rule.update`, `menu.push`, `message.send`, ...
    pub action: String,
    /// What it was done to (a rule name, an openid, ...).
    pub target: String,
    /// Details: the new value, the platform's answer.
    pub detail: String,
}

/// The `audit` table.
#[derive(Debug, Clone)]
pub struct SqlAudit {
    db: Db,
}

impl SqlAudit {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records `entry` (its `id` is ignored; `detail` cut to [`AUDIT_DETAIL_MAX_BYTES`]) and
    /// returns the new row id.
    ///
    /// # Errors
    ///
    /// The statement failed.
    pub async fn record(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        let mut end = entry.detail.len().min(AUDIT_DETAIL_MAX_BYTES);
        while !entry.detail.is_char_boundary(end) {
            end -= 1;
        }
        let detail = &entry.detail[..end];
        with_pool!(&self.db, pool => {
            sqlx::query_scalar::<_, i64>(INSERT)
                .bind(entry.at)
                .bind(&entry.actor)
                .bind(&entry.action)
                .bind(&entry.target)
                .bind(detail)
                .fetch_one(pool)
                .await
        })
        .map_err(|e| op_error(&self.db, "record_audit", &entry.action, e))
    }

    /// The latest `limit` entries, newest first.
    ///
    /// # Errors
    ///
    /// The query failed.
    pub async fn list(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(i64, i64, String, String, String, String)> = with_pool!(&self.db, pool => {
            sqlx::query_as(LIST).bind(i64::from(limit)).fetch_all(pool).await
        })
        .map_err(|e| op_error(&self.db, "list_audit", "audit", e))?;
        Ok(rows
            .into_iter()
            .map(|(id, at, actor, action, target, detail)| AuditEntry {
                id,
                at,
                actor,
                action,
                target,
                detail,
            })
            .collect())
    }
}
