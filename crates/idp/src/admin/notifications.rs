//! `/notification-channels`: where the IdP reaches approvers (admin only),
//! and each channel's deliveries with their receipts.

use super::{
    auth::Principal,
    common::{idempotent, parse_body},
    problem::ApiResult,
};
use crate::{services::notifications as service, state::SharedIdp};
use admin_api::{ChannelView, CreateChannel, DeliveryView};
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};

pub async fn list(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<ChannelView>>> {
    Ok(Json(service::list(&idp).await?))
}

pub async fn create(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreateChannel = parse_body(&body)?;
    idempotent(&idp, &who, &headers, "create-channel", &body, || async {
        let created = service::create(&idp, &who, &req).await?.announce(&idp);
        Ok((StatusCode::CREATED, serde_json::json!(created), None))
    })
    .await
}

pub async fn delete(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service::delete(&idp, &who, &id).await?.announce(&idp);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deliveries(
    State(idp): State<SharedIdp>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    Ok(Json(service::deliveries(&idp, &id).await?))
}
