//! `spent_jtis`: the `jti`s of `private_key_jwt` client assertions already
//! used, so an assertion replayed at any node is refused. Rows live until the
//! assertion expires (at most ten minutes), then the purge job drops them.

use crate::{Db, DbResult, sql};

impl Db {
    /// Records `jti` of `issuer` (valid until `exp`); false when it was spent already.
    pub async fn spend_jti(&self, issuer: &str, jti: &str, exp: i64) -> DbResult<bool> {
        Ok(sqlx::query(sql(
            self.backend(),
            "INSERT INTO spent_jtis (issuer, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        ))
        .bind(issuer)
        .bind(jti)
        .bind(exp)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Drops what can no longer be replayed: spent `jti`s past their expiry and
    /// upstream sign-ins never completed. Returns how many rows went.
    pub async fn purge_expired(&self, now: i64) -> DbResult<u64> {
        let b = self.backend();
        let jtis = sqlx::query(sql(b, "DELETE FROM spent_jtis WHERE expires_at < ?"))
            .bind(now - 60)
            .execute(self.pool())
            .await?
            .rows_affected();
        let logins = sqlx::query(sql(b, "DELETE FROM upstream_logins WHERE expires_at < ?"))
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(jtis + logins)
    }
}
