//! The connection inventory and what can be done to a connection: modify, suspend,
//! resume, revoke, attest and renew its approval, and bulk revoke by client, user or resource app (the help-desk
//! kill switch). A revoke is committed — and the next exchange refused — before it
//! is acknowledged; its revocation events are queued in the same transaction.

use super::{
    auth::Principal,
    common::*,
    problem::{ApiError, ApiResult},
    views::{connection_from_row, connection_view},
};
use crate::{
    services::connections::{self as services, Action, connection_filter, status_of},
    state::SharedIdp,
};
use admin_api::*;
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use idp_store::connections::{self, ConnectionOrder};
use serde_json::json;

pub use admin_api::ConnectionQuery;

pub async fn list(
    State(idp): State<SharedIdp>,
    ApiQuery(q): ApiQuery<ConnectionQuery>,
) -> ApiResult<Json<Page<ConnectionView>>> {
    non_negative(q.unused_for, "unused_for")?;
    let status = status_of(&q);
    let order = match q.sort.unwrap_or(ConnectionSort::Created) {
        ConnectionSort::Created => ConnectionOrder::Created,
        ConnectionSort::LastUsed => ConnectionOrder::LastUsed,
        ConnectionSort::Client => ConnectionOrder::ClientName(
            idp.catalog()
                .clients
                .iter()
                .map(|c| (c.item.client_id.clone(), c.item.name.clone()))
                .collect(),
        ),
        ConnectionSort::App => ConnectionOrder::AppName(
            idp.catalog()
                .apps
                .iter()
                .map(|a| (a.item.id.clone(), a.item.name.clone()))
                .collect(),
        ),
        ConnectionSort::Risk => ConnectionOrder::Risk,
    };
    let filter = connection_filter(&idp, &q, status).await?;
    // Filtered, counted, ordered and paged in SQL; views built for one page.
    let offset = decode_cursor(q.cursor.as_deref())?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mut db = idp.store.acquire().await?;
    let (rows, total) = connections::page(&mut db, &filter, &order, offset, limit).await?;
    let items = rows
        .into_iter()
        .map(|r| connection_from_row(&idp, r, vec![]))
        .collect::<Vec<_>>();
    Ok(Json(page_at(items, offset, total)))
}

pub async fn get(State(idp): State<SharedIdp>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut db = idp.store.acquire().await?;
    let v = connection_view(&idp, &mut db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("the connection"))?;
    Ok(with_etag(&v, v.version))
}

pub async fn suspend(
    s: State<SharedIdp>,
    w: Extension<Principal>,
    p: Path<String>,
    h: HeaderMap,
    b: Bytes,
) -> ApiResult<Response> {
    transition(s, w, p, h, b, Action::Suspend).await
}
pub async fn resume(
    s: State<SharedIdp>,
    w: Extension<Principal>,
    p: Path<String>,
    h: HeaderMap,
    b: Bytes,
) -> ApiResult<Response> {
    transition(s, w, p, h, b, Action::Resume).await
}
pub async fn revoke(
    s: State<SharedIdp>,
    w: Extension<Principal>,
    p: Path<String>,
    h: HeaderMap,
    b: Bytes,
) -> ApiResult<Response> {
    transition(s, w, p, h, b, Action::Revoke).await
}

async fn transition(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
    action: Action,
) -> ApiResult<Response> {
    let req: ReasonBody = parse_body(&body)?;
    let route = format!("{} {id}", action.as_str());
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let view = services::change_status(&idp, &who, &id, expected, action, &req.reason)
            .await?
            .announce(&idp);
        let version = view.version;
        Ok((StatusCode::OK, json!(view), Some(version)))
    })
    .await
}

pub async fn modify(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let m: ModifyConnection = parse_body(&body)?;
    let route = format!("modify {id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let view = services::modify(&idp, &who, &id, expected, &m)
            .await?
            .announce(&idp);
        let version = view.version;
        Ok((StatusCode::OK, json!(view), Some(version)))
    })
    .await
}

pub async fn attest(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let b: AttestBody = parse_body(&body)?;
    let route = format!("attest {id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let view = crate::services::renewal::attest(&idp, &who, &id, expected, &b)
            .await?
            .announce(&idp);
        let version = view.version;
        Ok((StatusCode::OK, json!(view), Some(version)))
    })
    .await
}

pub async fn renew(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let b: RenewBody = parse_body(&body)?;
    let route = format!("renew {id}");
    idempotent(&idp, &who, &headers, &route, &body, || async {
        let expected = if_match(&headers)?;
        let view = crate::services::renewal::renew(&idp, &who, &id, expected, &b)
            .await?
            .announce(&idp);
        let version = view.version;
        Ok((StatusCode::OK, json!(view), Some(version)))
    })
    .await
}

pub async fn bulk_revoke(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let b: BulkRevoke = parse_body(&body)?;
    idempotent(&idp, &who, &headers, "bulk-revoke", &body, || async {
        let result = services::revoke_in_bulk(&idp, &who, &b)
            .await?
            .announce(&idp);
        Ok((StatusCode::OK, json!(result), None))
    })
    .await
}
