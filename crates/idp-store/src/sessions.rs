//! What a sign-in leaves behind: authorization codes (`auth_codes`), access and
//! refresh tokens (`access_tokens`, `refresh_tokens`, all as SHA-256 hashes, in
//! families so a replay revokes everything issued from one sign-in), and the
//! last TOTP step each user spent (`totp_last_step`). Every "use once" is one
//! conditional write, so two nodes presenting the same code or token cannot
//! both succeed.

use crate::{Backend, Conn, Db, DbResult, from_json, json, sql};
use sqlx::Row;

/// A newly issued authorization code's data.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub username: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub expires_at: i64,
    pub family: String,
}

/// A live IdP access token as stored.
#[derive(Debug, Clone)]
pub struct AccessTokenRow {
    pub client_id: String,
    pub username: String,
    pub scope: String,
    pub acr: Option<String>,
    pub auth_time: Option<i64>,
}

/// What a redeemed code or refresh token says about the sign-in.
#[derive(Debug, Clone)]
pub struct Grant {
    pub family: String,
    pub client_id: String,
    pub username: String,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
}

/// Outcome of presenting an authorization code.
pub enum CodeRedemption {
    Ok(Box<AuthCode>),
    Unknown,
    /// Used before: every token issued from it has now been revoked.
    Reused,
}

/// Outcome of presenting a refresh token.
pub enum RefreshOutcome {
    Ok(Grant),
    Unknown,
    /// A rotated token was replayed: the whole family has been revoked.
    ReuseDetected,
}

/// A refresh token's status (`refresh_tokens.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStatus {
    Active,
    Rotated,
    Revoked,
}

impl RefreshStatus {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "rotated" => Some(Self::Rotated),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

impl Db {
    pub async fn insert_code(&self, code_hash: &str, c: &AuthCode) -> DbResult<()> {
        sqlx::query(sql(
            self.backend(),
            "INSERT INTO auth_codes (code_hash, client_id, redirect_uri, code_challenge, username, scope, nonce, auth_time, acr, amr, expires_at, family)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(code_hash)
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(&c.code_challenge)
        .bind(&c.username)
        .bind(&c.scope)
        .bind(&c.nonce)
        .bind(c.auth_time)
        .bind(&c.acr)
        .bind(json(&c.amr))
        .bind(c.expires_at)
        .bind(&c.family)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks the code used, atomically; a second use revokes its token family.
    pub async fn redeem_code(&self, code_hash: &str, now: i64) -> DbResult<CodeRedemption> {
        let b = self.backend();
        let mut tx = self.begin_read_write().await?;
        let Some(r) = sqlx::query(sql(b, "SELECT * FROM auth_codes WHERE code_hash = ?"))
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(CodeRedemption::Unknown);
        };
        let family: String = r.get("family");
        let first_use = sqlx::query(sql(
            b,
            "UPDATE auth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
        ))
        .bind(now)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first_use {
            revoke_family(&mut tx, &family).await?;
            tx.commit().await?;
            return Ok(CodeRedemption::Reused);
        }
        tx.commit().await?;
        Ok(CodeRedemption::Ok(Box::new(AuthCode {
            client_id: r.get("client_id"),
            redirect_uri: r.get("redirect_uri"),
            code_challenge: r.get("code_challenge"),
            username: r.get("username"),
            scope: r.get("scope"),
            nonce: r.get("nonce"),
            auth_time: r.get("auth_time"),
            acr: r.get("acr"),
            amr: from_json(&r.get::<String, _>("amr"))?,
            expires_at: r.get("expires_at"),
            family,
        })))
    }

    pub async fn insert_access_token(
        &self,
        hash: &str,
        g: &Grant,
        expires_at: i64,
    ) -> DbResult<()> {
        sqlx::query(sql(
            self.backend(),
            "INSERT INTO access_tokens (token_hash, family, client_id, username, scope, expires_at, acr, auth_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(hash)
        .bind(&g.family)
        .bind(&g.client_id)
        .bind(&g.username)
        .bind(&g.scope)
        .bind(expires_at)
        .bind(&g.acr)
        .bind(g.auth_time)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A live access token.
    pub async fn access_token(&self, hash: &str, now: i64) -> DbResult<Option<AccessTokenRow>> {
        let r = sqlx::query(sql(
            self.backend(),
            "SELECT client_id, username, scope, acr, auth_time FROM access_tokens WHERE token_hash = ? AND revoked = 0 AND expires_at > ?",
        ))
        .bind(hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(r.map(|r| AccessTokenRow {
            client_id: r.get("client_id"),
            username: r.get("username"),
            scope: r.get("scope"),
            acr: r.get("acr"),
            auth_time: r.get("auth_time"),
        }))
    }

    pub async fn insert_refresh_token(
        &self,
        hash: &str,
        g: &Grant,
        expires_at: i64,
        now: i64,
    ) -> DbResult<()> {
        sqlx::query(sql(
            self.backend(),
            "INSERT INTO refresh_tokens (token_hash, family, client_id, username, scope, auth_time, acr, amr, expires_at, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)",
        ))
        .bind(hash)
        .bind(&g.family)
        .bind(&g.client_id)
        .bind(&g.username)
        .bind(&g.scope)
        .bind(g.auth_time)
        .bind(&g.acr)
        .bind(json(&g.amr))
        .bind(expires_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Reads a refresh token for `client_id`. With `rotate`, marks it rotated in the
    /// same transaction; presenting a rotated token revokes its whole family.
    pub async fn use_refresh_token(
        &self,
        hash: &str,
        client_id: &str,
        now: i64,
        rotate: bool,
    ) -> DbResult<RefreshOutcome> {
        let b = self.backend();
        let mut tx = self.begin_read_write().await?;
        let Some(r) = sqlx::query(sql(
            b,
            "SELECT * FROM refresh_tokens WHERE token_hash = ? AND client_id = ?",
        ))
        .bind(hash)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(RefreshOutcome::Unknown);
        };
        let family: String = r.get("family");
        let stored: String = r.get("status");
        match crate::known_status(RefreshStatus::parse(&stored), &stored, "refresh token")? {
            RefreshStatus::Active if r.get::<i64, _>("expires_at") > now => {}
            RefreshStatus::Rotated => {
                revoke_family(&mut tx, &family).await?;
                tx.commit().await?;
                return Ok(RefreshOutcome::ReuseDetected);
            }
            RefreshStatus::Active | RefreshStatus::Revoked => return Ok(RefreshOutcome::Unknown),
        }
        if rotate {
            let changed = sqlx::query(sql(
                b,
                "UPDATE refresh_tokens SET status = 'rotated' WHERE token_hash = ? AND status = 'active'",
            ))
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed != 1 {
                // Rotated by another request (or node) in between: a replay.
                revoke_family(&mut tx, &family).await?;
                tx.commit().await?;
                return Ok(RefreshOutcome::ReuseDetected);
            }
        }
        tx.commit().await?;
        Ok(RefreshOutcome::Ok(Grant {
            family,
            client_id: r.get("client_id"),
            username: r.get("username"),
            scope: r.get("scope"),
            auth_time: r.get("auth_time"),
            acr: r.get("acr"),
            amr: from_json(&r.get::<String, _>("amr"))?,
        }))
    }

    /// RFC 7009: revokes the token (access or refresh) if it belongs to `client_id`.
    /// Revoking a refresh token revokes its family.
    pub async fn revoke_token(&self, hash: &str, client_id: &str) -> DbResult<bool> {
        let b = self.backend();
        let mut tx = self.begin_read_write().await?;
        let refresh: Option<String> = sqlx::query_scalar(sql(
            b,
            "SELECT family FROM refresh_tokens WHERE token_hash = ? AND client_id = ?",
        ))
        .bind(hash)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(fam) = refresh {
            revoke_family(&mut tx, &fam).await?;
            tx.commit().await?;
            return Ok(true);
        }
        let changed = sqlx::query(sql(
            b,
            "UPDATE access_tokens SET revoked = 1 WHERE token_hash = ? AND client_id = ?",
        ))
        .bind(hash)
        .bind(client_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// Records the TOTP step used by `username`; false if that step (or a later one)
    /// was already used, so a code cannot be replayed (on any node).
    pub async fn consume_totp_step(&self, username: &str, step: u64) -> DbResult<bool> {
        let changed = sqlx::query(sql(
            self.backend(),
            "INSERT INTO totp_last_step (username, last_step) VALUES (?, ?)
             ON CONFLICT(username) DO UPDATE SET last_step = excluded.last_step WHERE totp_last_step.last_step < excluded.last_step",
        ))
        .bind(username)
        .bind(step as i64)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }
}

async fn revoke_family(tx: &mut Conn, family: &str) -> DbResult<()> {
    let b = Backend::of(tx);
    sqlx::query(sql(
        b,
        "UPDATE refresh_tokens SET status = 'revoked' WHERE family = ?",
    ))
    .bind(family)
    .execute(&mut *tx)
    .await?;
    sqlx::query(sql(
        b,
        "UPDATE access_tokens SET revoked = 1 WHERE family = ?",
    ))
    .bind(family)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
