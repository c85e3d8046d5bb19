//! `/kills`: what each kill switch turned off and how far its events have
//! reached (every role that reads), and `POST /kills/{id}/reinstate`, which
//! turns exactly that back on (an approver, `If-Match`, a reason, step-up).

use super::{
    auth::Principal,
    common::{idempotent, if_match, parse_body, with_etag},
    problem::ApiResult,
};
use crate::{services::kills as service, state::SharedIdp};
use admin_api::{KillView, ReasonBody};
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};

pub async fn list(State(idp): State<SharedIdp>) -> ApiResult<Json<Vec<KillView>>> {
    Ok(Json(service::latest(&idp).await?))
}

pub async fn get(State(idp): State<SharedIdp>, Path(id): Path<String>) -> ApiResult<Response> {
    let v = service::get(&idp, &id).await?;
    Ok(with_etag(&v, v.version))
}

pub async fn reinstate(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req: ReasonBody = parse_body(&body)?;
    let route = format!("reinstate {id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let view = service::reinstate(&idp, &who, &id, expected, &req.reason)
            .await?
            .announce(&idp);
        let v = view.version;
        Ok((StatusCode::OK, serde_json::json!(view), Some(v)))
    })
    .await
}
