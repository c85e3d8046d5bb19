//! `idempotency_keys`: a retried admin mutation with the same key gets the first
//! response again. Keys are per caller; the first result stored wins on every node.

use crate::{Db, DbResult, sql};
use sqlx::Row;

/// The stored first result of a keyed mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// SHA-256 of the route and body it answered.
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

impl Db {
    pub async fn idempotent_response(
        &self,
        actor: &str,
        key: &str,
    ) -> DbResult<Option<StoredResponse>> {
        let row = sqlx::query(sql(
            self.backend(),
            "SELECT request_hash, status, body FROM idempotency_keys WHERE actor = ? AND key = ?",
        ))
        .bind(actor)
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| StoredResponse {
            request_hash: r.get("request_hash"),
            status: u16::try_from(r.get::<i64, _>("status")).unwrap_or(200),
            body: r.get("body"),
        }))
    }

    /// Stores the first result for (actor, key); a later one for the same key is ignored.
    pub async fn store_idempotent_response(
        &self,
        actor: &str,
        key: &str,
        r: &StoredResponse,
        now: i64,
    ) -> DbResult<()> {
        sqlx::query(sql(
            self.backend(),
            "INSERT INTO idempotency_keys (actor, key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        ))
        .bind(actor)
        .bind(key)
        .bind(&r.request_hash)
        .bind(i64::from(r.status))
        .bind(&r.body)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
