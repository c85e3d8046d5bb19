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
use idp_store::api_tokens;

pub async fn list(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<ApiTokenView>>> {
    Ok(Json(idp.store.api_tokens().await?))
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
    let mut tx = idp.store.begin_write().await?;
    api_tokens::insert(
        &mut tx,
        &api_tokens::NewApiToken {
            id: &id,
            name,
            token_hash: &xaa::util::sha256_hex(token.as_bytes()),
            roles: &req.roles,
            created_by: &who.subject,
            created_at: now,
            expires_at: now + req.expires_in as i64,
        },
    )
    .await?;
    let mut e = admin_event(&who, "api_token.create", &id);
    e.detail["after"] =
        serde_json::json!({ "name": name, "roles": req.roles, "expires_in": req.expires_in });
    audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    let info = api_tokens::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::conflict("the API token was not stored"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(ApiTokenCreated { token, info })))
}

pub async fn revoke(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiTokenView>> {
    let mut tx = idp.store.begin_write().await?;
    let changed = api_tokens::revoke(&mut tx, &id, idp.now()).await?;
    let view = api_tokens::get(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("the API token"))?;
    if changed {
        let e = admin_event(&who, "api_token.revoke", &id);
        audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    }
    tx.commit().await?;
    Ok(Json(view))
}
