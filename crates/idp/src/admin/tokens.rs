//! Admin API tokens for automation: created by an admin with chosen roles and an
//! expiry, shown once, stored as a SHA-256 hash, revocable, and audited.

use super::{
    auth::{API_TOKEN_PREFIX, Principal},
    common::{admin_event, parse_body},
    problem::{ApiError, ApiResult},
};
use crate::{audit, state::SharedIdp};
use admin_api::*;
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
};
use sqlx::Row;

fn view(r: &sqlx::sqlite::SqliteRow) -> ApiTokenView {
    ApiTokenView {
        id: r.get("id"),
        name: r.get("name"),
        roles: serde_json::from_str(&r.get::<String, _>("roles")).unwrap_or_default(),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        expires_at: r.get("expires_at"),
        revoked: r.get::<Option<i64>, _>("revoked_at").is_some(),
        last_used_at: r.get("last_used_at"),
    }
}

pub async fn list(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<ApiTokenView>>> {
    let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY created_at DESC")
        .fetch_all(&idp.store.pool)
        .await?;
    Ok(Json(rows.iter().map(view).collect()))
}

pub async fn create(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ApiTokenCreated>)> {
    let req: CreateApiToken = parse_body(&body)?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("name must be 1 to 100 characters"));
    }
    if req.roles.is_empty() {
        return Err(ApiError::validation("give the token at least one role"));
    }
    if req.expires_in == 0 || req.expires_in > 365 * 86400 {
        return Err(ApiError::validation(
            "expires_in must be between 1 second and one year",
        ));
    }
    let now = idp.now();
    let id = format!("tok_{}", uuid::Uuid::new_v4().simple());
    let token = format!("{API_TOKEN_PREFIX}{}", xaa::util::random_token(32));
    let mut tx = idp.store.pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("INSERT INTO api_tokens (id, name, token_hash, roles, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(&id)
        .bind(name)
        .bind(xaa::util::sha256_hex(token.as_bytes()))
        .bind(serde_json::to_string(&req.roles).expect("roles"))
        .bind(&who.subject)
        .bind(now)
        .bind(now + req.expires_in as i64)
        .execute(&mut *tx)
        .await?;
    let mut e = admin_event(&who, "api_token.create", &id);
    e.detail["after"] =
        serde_json::json!({ "name": name, "roles": req.roles, "expires_in": req.expires_in });
    audit::append_in_tx(&mut tx, &[(&e, idp.now_ms())]).await?;
    let row = sqlx::query("SELECT * FROM api_tokens WHERE id = ?")
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiTokenCreated {
            token,
            info: view(&row),
        }),
    ))
}

pub async fn revoke(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiTokenView>> {
    let mut tx = idp.store.pool.begin_with("BEGIN IMMEDIATE").await?;
    let changed =
        sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(idp.now())
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let row = sqlx::query("SELECT * FROM api_tokens WHERE id = ?")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("the API token"))?;
    if changed == 1 {
        let e = admin_event(&who, "api_token.revoke", &id);
        audit::append_in_tx(&mut tx, &[(&e, idp.now_ms())]).await?;
    }
    tx.commit().await?;
    Ok(Json(view(&row)))
}
