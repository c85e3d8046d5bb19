//! What every admin mutation shares: ETags and `If-Match`, `Idempotency-Key`
//! replay, the change feed, and JSON bodies with precise errors.

use super::{
    auth::Principal,
    problem::{ApiError, ApiResult},
};
use crate::state::SharedIdp;
use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// The ETag header of a version (`"v12"`: always a valid header value).
fn etag_header(version: i64) -> HeaderValue {
    HeaderValue::from_str(&etag(version)).unwrap_or_else(|_| HeaderValue::from_static("\"v0\""))
}

/// The version named by `If-Match`; 428 when it is missing.
pub fn if_match(headers: &HeaderMap) -> ApiResult<i64> {
    let v = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::precondition_required)?;
    let v = v.trim().trim_start_matches("W/").trim_matches('"');
    v.strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ApiError::validation("If-Match must be an ETag this API returned"))
}

/// A JSON body with the ETag header.
pub fn with_etag<T: Serialize>(value: &T, version: i64) -> Response {
    let mut r = Json(value).into_response();
    r.headers_mut().insert(header::ETAG, etag_header(version));
    r
}

pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::validation(format!("the request body is not valid: {e}")))
}

/// Runs `op` at most once per (caller, `Idempotency-Key`): a retry with the same
/// key and body gets the first response again; the same key with another body is
/// refused. Without the header, `op` simply runs.
pub async fn idempotent<F, Fut>(
    idp: &SharedIdp,
    who: &Principal,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    op: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<(StatusCode, serde_json::Value, Option<i64>)>>,
{
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut material = route.as_bytes().to_vec();
    material.push(0);
    material.extend_from_slice(body);
    let hash = xaa::util::sha256_hex(&material);
    if let Some(k) = &key {
        if k.is_empty() || k.len() > 200 {
            return Err(ApiError::validation(
                "Idempotency-Key must be 1 to 200 characters",
            ));
        }
        if let Some(prior) = idp.store.idempotent_response(&who.subject, k).await? {
            if prior.request_hash != hash {
                return Err(ApiError::idempotency_mismatch());
            }
            let status = StatusCode::from_u16(prior.status).unwrap_or(StatusCode::OK);
            let mut r = (status, prior.body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(r);
        }
    }
    let (status, value, version) = op().await?;
    if let Some(k) = key {
        let stored = idp_store::idempotency::StoredResponse {
            request_hash: hash,
            status: status.as_u16(),
            body: value.to_string(),
        };
        idp.store
            .store_idempotent_response(&who.subject, &k, &stored, idp.now())
            .await?;
    }
    let mut r = (status, Json(value)).into_response();
    if let Some(v) = version {
        r.headers_mut().insert(header::ETAG, etag_header(v));
    }
    Ok(r)
}

pub use crate::services::publish;

pub use crate::services::actor_event as admin_event;

/// Opaque cursors are offsets, base64url-encoded.
pub fn decode_cursor(c: Option<&str>) -> ApiResult<usize> {
    match c {
        None | Some("") => Ok(0),
        Some(c) => xaa::util::b64_decode(c)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| ApiError::validation("the cursor is not one this API returned")),
    }
}

pub fn encode_cursor(offset: usize) -> String {
    xaa::util::b64(format!("o:{offset}").as_bytes())
}

/// Slices `items` into a page.
pub fn paginate<T>(
    items: Vec<T>,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> ApiResult<admin_api::Page<T>> {
    let offset = decode_cursor(cursor)?;
    let limit = limit.unwrap_or(50).clamp(1, 500);
    let total = items.len() as u64;
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    Ok(admin_api::Page {
        next_cursor: (next < total as usize).then(|| encode_cursor(next)),
        items: page,
        total,
    })
}

pub use crate::services::text_search;

/// The page `items` is of a SQL-paged list: `offset` into `total` matches.
pub fn page_at<T>(items: Vec<T>, offset: usize, total: i64) -> admin_api::Page<T> {
    let next = offset + items.len();
    admin_api::Page {
        next_cursor: ((next as i64) < total).then(|| encode_cursor(next)),
        items,
        total: total as u64,
    }
}

/// `Query<T>` for admin routes: a query string that does not parse (an unknown
/// field value, a number out of range) is an RFC 9457 validation problem like
/// every other bad input, not axum's plain-text rejection.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = super::problem::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(super::problem::ApiError::validation(e.body_text())),
        }
    }
}

/// An "at least this many seconds" filter must not be negative.
pub fn non_negative(v: Option<i64>, name: &str) -> super::problem::ApiResult<()> {
    match v {
        Some(v) if v < 0 => Err(super::problem::ApiError::validation(format!(
            "{name} must not be negative"
        ))),
        _ => Ok(()),
    }
}
