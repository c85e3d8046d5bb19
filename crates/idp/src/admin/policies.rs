//! `/policies`: the lifecycle policies an admin sets (read by every role,
//! replaced with `If-Match`), and `POST /policies/run`, which evaluates them
//! now instead of at the IdP's next periodic run.

use super::{
    auth::Principal,
    common::{idempotent, if_match, parse_body, with_etag},
    problem::ApiResult,
};
use crate::{services::lifecycle as service, state::SharedIdp};
use admin_api::{LifecyclePolicies, PolicyRunReport};
use axum::{
    Extension, Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};

pub async fn get(State(idp): State<SharedIdp>) -> ApiResult<Response> {
    let view = service::current(&idp).await?;
    Ok(with_etag(&view, view.version))
}

pub async fn put(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let new: LifecyclePolicies = parse_body(&body)?;
    idempotent(&idp, &who, &headers, "put-policies", &body, || async {
        let expected = if_match(&headers)?;
        let view = service::put(&idp, &who, expected, &new)
            .await?
            .announce(&idp);
        let v = view.version;
        Ok((StatusCode::OK, serde_json::json!(view), Some(v)))
    })
    .await
}

pub async fn run(State(idp): State<SharedIdp>) -> ApiResult<Json<PolicyRunReport>> {
    Ok(Json(service::run(&idp).await?.announce(&idp)))
}
