//! `signing_keys`: the IdP's signing keys, shared by every node through the
//! database (no key setting is needed).

use crate::{Db, DbResult, sql};
use sqlx::Row;

/// A stored key: id, algorithm name, PKCS#8 DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub pkcs8: Vec<u8>,
}

impl Db {
    /// The active signing key, if any.
    pub async fn active_signing_key(&self) -> DbResult<Option<StoredKey>> {
        let row = sqlx::query(
            "SELECT kid, alg, pkcs8 FROM signing_keys WHERE active = 1 ORDER BY created_at DESC, kid LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| StoredKey {
            kid: r.get("kid"),
            alg: r.get("alg"),
            pkcs8: r.get("pkcs8"),
        }))
    }

    /// The active key, or `generate()`'s stored as the active one. Under the
    /// writer lock, so nodes started together on an empty database agree on one key.
    pub async fn active_or_new_signing_key<E>(
        &self,
        now: i64,
        generate: impl FnOnce() -> Result<StoredKey, E>,
    ) -> DbResult<Result<StoredKey, E>> {
        let mut tx = self.begin_write().await?;
        let b = self.backend();
        let found = sqlx::query(sql(
            b,
            "SELECT kid, alg, pkcs8 FROM signing_keys WHERE active = 1 ORDER BY created_at DESC, kid LIMIT 1",
        ))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = found {
            return Ok(Ok(StoredKey {
                kid: r.get("kid"),
                alg: r.get("alg"),
                pkcs8: r.get("pkcs8"),
            }));
        }
        let k = match generate() {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        };
        sqlx::query(sql(
            b,
            "INSERT INTO signing_keys (kid, alg, pkcs8, created_at, active) VALUES (?, ?, ?, ?, 1)",
        ))
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.pkcs8)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(k))
    }
}
