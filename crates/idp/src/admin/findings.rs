//! `/findings`: the least-privilege findings (every role that reads; open ones
//! unless `all`), and `POST /findings/{id}/state` to snooze, acknowledge, mark
//! a false positive or reopen one. A finding's remediation is a connection
//! change sent to `PATCH /connections/{id}` with `If-Match`, as any other.

use super::{
    auth::Principal,
    common::{ApiQuery, parse_body},
    problem::ApiResult,
};
use crate::{services::findings as service, state::SharedIdp};
use admin_api::{FindingQuery, FindingState, FindingStateBody, FindingView};
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
};

pub async fn list(
    State(idp): State<SharedIdp>,
    ApiQuery(q): ApiQuery<FindingQuery>,
) -> ApiResult<Json<Vec<FindingView>>> {
    let all = service::all(&idp).await?;
    Ok(Json(if q.all.unwrap_or(false) {
        all
    } else {
        all.into_iter()
            .filter(|f| f.state == FindingState::Open)
            .collect()
    }))
}

pub async fn set_state(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<FindingView>> {
    let b: FindingStateBody = parse_body(&body)?;
    Ok(Json(service::set_state(&idp, &who, &id, &b).await?))
}
