//! `signing_keys`: the IdP's signing keys, shared by every node through the
//! database (no key setting is needed), and their rotation: a new key is
//! published as `next` before it signs, becomes `active` while the old one stays
//! published as `previous`, and the old one is retired (dropped from the JWKS,
//! its private key erased) once nothing it signed is still valid. Each step is
//! one write transaction; a node reads the keys at start.

use crate::{
    Conn, Db, DbResult, Error,
    audit::{AuditEvent, AuditOutcome},
    known_status, sql,
};
use sqlx::Row;

/// Where a key is in its rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyStatus {
    /// Published, not signing yet.
    Next,
    /// Signing.
    Active,
    /// Published so that what it signed still verifies; not signing.
    Previous,
    /// Not published; its private key erased.
    Retired,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Next => "next",
            KeyStatus::Active => "active",
            KeyStatus::Previous => "previous",
            KeyStatus::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<KeyStatus> {
        Some(match s {
            "next" => KeyStatus::Next,
            "active" => KeyStatus::Active,
            "previous" => KeyStatus::Previous,
            "retired" => KeyStatus::Retired,
            _ => return None,
        })
    }
}

/// A key as the rotation lists it (no private key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub status: KeyStatus,
    pub created_at: i64,
}

/// The audit event of a rotation step, in the step's transaction.
async fn audited(tx: &mut Conn, kind: &str, actor: &str, kid: &str, now_ms: i64) -> DbResult<()> {
    let mut e = AuditEvent::new(kind, AuditOutcome::Success);
    e.actor = Some(actor.to_owned());
    e.target = Some(kid.to_owned());
    crate::audit::append(tx, &[(&e, now_ms)]).await.map(|_| ())
}

/// Why a rotation step cannot be taken now.
fn rotation_refused(message: &str) -> Error {
    Error::Configuration(message.to_owned().into())
}

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
            "SELECT kid, alg, pkcs8 FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC, kid LIMIT 1",
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
            "SELECT kid, alg, pkcs8 FROM signing_keys WHERE status = 'active' ORDER BY created_at DESC, kid LIMIT 1",
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
            "INSERT INTO signing_keys (kid, alg, pkcs8, created_at, active, status) VALUES (?, ?, ?, ?, 1, 'active')",
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

impl Db {
    /// Every key with its status, newest first.
    pub async fn signing_keys(&self) -> DbResult<Vec<KeyRow>> {
        let rows = sqlx::query(
            "SELECT kid, alg, status, created_at FROM signing_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.get("status");
                Ok(KeyRow {
                    kid: r.get("kid"),
                    alg: r.get("alg"),
                    status: known_status(KeyStatus::parse(&status), &status, "signing key")?,
                    created_at: r.get("created_at"),
                })
            })
            .collect()
    }

    /// The keys the JWKS publishes (next, active, previous) with their private
    /// parts, for a node's start.
    pub async fn published_signing_keys(&self) -> DbResult<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT kid, alg, pkcs8 FROM signing_keys WHERE status IN ('next', 'active', 'previous') ORDER BY created_at DESC, kid",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| StoredKey {
                kid: r.get("kid"),
                alg: r.get("alg"),
                pkcs8: r.get("pkcs8"),
            })
            .collect())
    }

    /// Step 1: stores `key` as the next key (published, not signing). Refused
    /// while another key is next.
    pub async fn prepare_signing_key(
        &self,
        key: &StoredKey,
        actor: &str,
        now_ms: i64,
    ) -> DbResult<()> {
        let mut tx = self.begin_write().await?;
        let b = self.backend();
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE status = 'next'")
                .fetch_one(&mut *tx)
                .await?;
        if pending > 0 {
            return Err(rotation_refused(
                "a next key is already published: activate it (or wait) before preparing another",
            ));
        }
        sqlx::query(sql(
            b,
            "INSERT INTO signing_keys (kid, alg, pkcs8, created_at, active, status) VALUES (?, ?, ?, ?, 0, 'next')",
        ))
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.pkcs8)
        .bind(now_ms / 1000)
        .execute(&mut *tx)
        .await?;
        audited(&mut tx, "signing_key.prepared", actor, &key.kid, now_ms).await?;
        tx.commit().await
    }

    /// Step 2: the next key signs from now on; the active one becomes previous
    /// (still published). Refused when no key is next.
    pub async fn activate_signing_key(&self, actor: &str, now_ms: i64) -> DbResult<String> {
        let mut tx = self.begin_write().await?;
        let next: Option<String> =
            sqlx::query_scalar("SELECT kid FROM signing_keys WHERE status = 'next'")
                .fetch_optional(&mut *tx)
                .await?;
        let Some(kid) = next else {
            return Err(rotation_refused(
                "no next key to activate: prepare one first",
            ));
        };
        sqlx::query(
            "UPDATE signing_keys SET status = 'previous', active = 0 WHERE status = 'active'",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE signing_keys SET status = 'active', active = 1 WHERE status = 'next'")
            .execute(&mut *tx)
            .await?;
        audited(&mut tx, "signing_key.activated", actor, &kid, now_ms).await?;
        tx.commit().await?;
        Ok(kid)
    }

    /// Step 3: previous keys leave the JWKS and their private keys are erased
    /// (a backup taken afterwards no longer holds them). Returns how many.
    pub async fn retire_signing_keys(&self, actor: &str, now_ms: i64) -> DbResult<u64> {
        let mut tx = self.begin_write().await?;
        let previous: Vec<String> =
            sqlx::query_scalar("SELECT kid FROM signing_keys WHERE status = 'previous'")
                .fetch_all(&mut *tx)
                .await?;
        let done = sqlx::query(sql(
            self.backend(),
            "UPDATE signing_keys SET status = 'retired', active = 0, pkcs8 = ? WHERE status = 'previous'",
        ))
        .bind(Vec::<u8>::new())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for kid in &previous {
            audited(&mut tx, "signing_key.retired", actor, kid, now_ms).await?;
        }
        tx.commit().await?;
        Ok(done)
    }
}
