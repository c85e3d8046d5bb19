//! `api_tokens`: admin API tokens for automation, stored as SHA-256 hashes.

use crate::{Backend, Conn, Db, DbResult, from_json, json, sql};
use admin_api::{ApiTokenView, Role};
use sqlx::{Row, any::AnyRow};

/// The one decoder of an `api_tokens` row.
fn view(r: &AnyRow) -> DbResult<ApiTokenView> {
    Ok(ApiTokenView {
        id: r.get("id"),
        name: r.get("name"),
        roles: from_json(&r.get::<String, _>("roles"))?,
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        expires_at: r.get("expires_at"),
        revoked: r.get::<Option<i64>, _>("revoked_at").is_some(),
        last_used_at: r.get("last_used_at"),
    })
}

/// A token to store.
pub struct NewApiToken<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub roles: &'a [Role],
    pub created_by: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert(tx: &mut Conn, t: &NewApiToken<'_>) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO api_tokens (id, name, token_hash, roles, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(t.id)
    .bind(t.name)
    .bind(t.token_hash)
    .bind(json(t.roles))
    .bind(t.created_by)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn get(c: &mut Conn, id: &str) -> DbResult<Option<ApiTokenView>> {
    sqlx::query(sql(Backend::of(c), "SELECT * FROM api_tokens WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(view)
        .transpose()
}

/// Marks the token revoked; false when it was already (or does not exist).
pub async fn revoke(tx: &mut Conn, id: &str, now: i64) -> DbResult<bool> {
    Ok(sqlx::query(sql(
        Backend::of(tx),
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    ))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

/// What authenticating with a token needs of its row.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub created_by: String,
    pub expires_at: i64,
    pub revoked: bool,
}

impl Db {
    pub async fn api_tokens(&self) -> DbResult<Vec<ApiTokenView>> {
        sqlx::query("SELECT * FROM api_tokens ORDER BY created_at DESC, id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(view)
            .collect()
    }

    /// The token with this hash, if any.
    pub async fn api_token_by_hash(&self, hash: &str) -> DbResult<Option<TokenGrant>> {
        let row = sqlx::query(sql(
            self.backend(),
            "SELECT id, name, roles, created_by, expires_at, revoked_at FROM api_tokens WHERE token_hash = ?",
        ))
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(TokenGrant {
                id: r.get("id"),
                name: r.get("name"),
                roles: from_json(&r.get::<String, _>("roles"))?,
                created_by: r.get("created_by"),
                expires_at: r.get("expires_at"),
                revoked: r.get::<Option<i64>, _>("revoked_at").is_some(),
            })
        })
        .transpose()
    }

    pub async fn touch_api_token(&self, id: &str, now: i64) -> DbResult<()> {
        sqlx::query(sql(
            self.backend(),
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
        ))
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
