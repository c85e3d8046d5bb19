//! `/clients` writes and the single-client read: register (the secret shown
//! once), edit, rotate the secret with an overlap, retire. Conditional writes
//! take `If-Match` and `Idempotency-Key` like every decision.

use super::{
    auth::Principal,
    common::{idempotent, if_match, parse_body, with_etag},
    problem::ApiResult,
};
use crate::{services::registry as service, state::SharedIdp};
use admin_api::*;
use axum::{
    Extension,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::json;

pub async fn register(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req: RegisterClient = parse_body(&body)?;
    idempotent(&idp, &who, &headers, "register-client", &body, || async {
        let created = service::register_client(&idp, &who, &req)
            .await?
            .announce(&idp);
        let version = created.client.version;
        Ok((StatusCode::CREATED, json!(created), Some(version)))
    })
    .await
}

pub async fn get(
    State(idp): State<SharedIdp>,
    Path(client_id): Path<String>,
) -> ApiResult<Response> {
    let cat = idp.catalog();
    let r = cat
        .clients
        .iter()
        .find(|c| c.item.client_id == client_id)
        .ok_or_else(|| super::problem::ApiError::not_found("the client"))?;
    let views = super::directory::client_views(&idp, std::slice::from_ref(r)).await?;
    let view = views
        .into_iter()
        .next()
        .unwrap_or_else(|| service::client_view(r, false, (0, 0)));
    Ok(with_etag(&view, view.version))
}

pub async fn update(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req: UpdateClient = parse_body(&body)?;
    let route = format!("update-client {client_id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let view = service::update_client(&idp, &who, &client_id, expected, &req)
            .await?
            .announce(&idp);
        let version = view.version;
        Ok((StatusCode::OK, json!(view), Some(version)))
    })
    .await
}

pub async fn rotate_secret(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req: RotateClientSecret = parse_body(&body)?;
    let route = format!("rotate-secret {client_id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let rotated = service::rotate_secret(&idp, &who, &client_id, expected, &req)
            .await?
            .announce(&idp);
        let version = rotated.client.version;
        Ok((StatusCode::OK, json!(rotated), Some(version)))
    })
    .await
}

pub async fn retire(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req: RetireClient = parse_body(&body)?;
    let route = format!("retire-client {client_id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let view = service::retire_client(&idp, &who, &client_id, expected, &req)
            .await?
            .announce(&idp);
        let version = view.version;
        Ok((StatusCode::OK, json!(view), Some(version)))
    })
    .await
}
