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
    services::{
        Committed, ServiceResult,
        connections::{self as services, Action, connection_filter, status_of},
        renewal,
    },
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

/// A change to connection `id` made against the version the caller read
/// (`If-Match`; idempotent under `Idempotency-Key`): the body parsed as `B`,
/// the service's commit announced, the connection answered with its version
/// as the `ETag`.
async fn versioned_change<B: serde::de::DeserializeOwned>(
    (idp, who, id): (&SharedIdp, &Principal, &str),
    (headers, body): (&HeaderMap, &Bytes),
    verb: &str,
    change: impl AsyncFnOnce(B, i64) -> ServiceResult<Committed<ConnectionView>>,
) -> ApiResult<Response> {
    let b: B = parse_body(body)?;
    let route = format!("{verb} {id}");
    idempotent(idp, who, headers, &route, body, || async {
        let expected = if_match(headers)?;
        let view = change(b, expected).await?.announce(idp);
        let version = view.version;
        Ok((StatusCode::OK, json!(view), Some(version)))
    })
    .await
}

async fn transition(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
    action: Action,
) -> ApiResult<Response> {
    let at = (&idp, &who, id.as_str());
    versioned_change(
        at,
        (&headers, &body),
        action.as_str(),
        async |r: ReasonBody, v| {
            services::change_status(&idp, &who, &id, v, action, &r.reason).await
        },
    )
    .await
}

pub async fn modify(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let at = (&idp, &who, id.as_str());
    versioned_change(
        at,
        (&headers, &body),
        "modify",
        async |m: ModifyConnection, v| services::modify(&idp, &who, &id, v, &m).await,
    )
    .await
}

pub async fn attest(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let at = (&idp, &who, id.as_str());
    versioned_change(at, (&headers, &body), "attest", async |b: AttestBody, v| {
        renewal::attest(&idp, &who, &id, v, &b).await
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
    let at = (&idp, &who, id.as_str());
    versioned_change(at, (&headers, &body), "renew", async |b: RenewBody, v| {
        renewal::renew(&idp, &who, &id, v, &b).await
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
