//! `upstream_logins`: federated sign-ins between leaving for the upstream IdP and
//! coming back. A row is taken at most once (the `state` is single use), and
//! only before it expires.

use crate::{Db, DbResult, sql};
use sqlx::Row;

/// A sign-in sent to an upstream, as the callback needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLogin {
    pub upstream: String,
    pub browser_hash: String,
    pub nonce: String,
    pub code_verifier: String,
    /// The client's authorization request, as JSON.
    pub request: String,
    pub expires_at: i64,
}

impl Db {
    pub async fn insert_upstream_login(&self, state_hash: &str, l: &UpstreamLogin) -> DbResult<()> {
        sqlx::query(sql(
            self.backend(),
            "INSERT INTO upstream_logins (state_hash, upstream, browser_hash, nonce, code_verifier, request, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(state_hash)
        .bind(&l.upstream)
        .bind(&l.browser_hash)
        .bind(&l.nonce)
        .bind(&l.code_verifier)
        .bind(&l.request)
        .bind(l.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes and returns the sign-in of `state_hash`; `None` when there is
    /// none (never started, already taken, or expired).
    pub async fn take_upstream_login(
        &self,
        state_hash: &str,
        now: i64,
    ) -> DbResult<Option<UpstreamLogin>> {
        let row = sqlx::query(sql(
            self.backend(),
            "DELETE FROM upstream_logins WHERE state_hash = ?
             RETURNING upstream, browser_hash, nonce, code_verifier, request, expires_at",
        ))
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| UpstreamLogin {
                upstream: r.get("upstream"),
                browser_hash: r.get("browser_hash"),
                nonce: r.get("nonce"),
                code_verifier: r.get("code_verifier"),
                request: r.get("request"),
                expires_at: r.get("expires_at"),
            })
            .filter(|l| l.expires_at > now))
    }
}
