//! `/clients` and `/resource-apps` writes and single reads: register (a
//! client's secret shown once), edit, rotate a client's secret with an overlap,
//! retire. Conditional writes take `If-Match`, and every write
//! `Idempotency-Key`, like every decision.

use super::{
    auth::Principal,
    common::{idempotent, if_match, parse_body, with_etag},
    problem::{ApiError, ApiResult},
};
use crate::{
    services::{Committed, ServiceResult, registry as service},
    state::SharedIdp,
};
use admin_api::*;
use axum::{
    Extension,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::{Serialize, de::DeserializeOwned};

/// What a registry write needs to know about its request.
struct Write<'a> {
    idp: &'a SharedIdp,
    who: &'a Principal,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl Write<'_> {
    /// Runs `op` once per `Idempotency-Key` with the body parsed and, for a
    /// `conditional` write, the `If-Match` version; answers its committed
    /// value with `status` and the value's ETag.
    async fn run<B, T, Fut>(
        &self,
        route: &str,
        status: StatusCode,
        conditional: bool,
        op: impl FnOnce(B, i64) -> Fut,
        version: impl Fn(&T) -> i64,
    ) -> ApiResult<Response>
    where
        B: DeserializeOwned,
        T: Serialize,
        Fut: Future<Output = ServiceResult<Committed<T>>>,
    {
        let req: B = parse_body(self.body)?;
        idempotent(
            self.idp,
            self.who,
            self.headers,
            route,
            self.body,
            || async {
                let expected = if conditional {
                    if_match(self.headers)?
                } else {
                    0
                };
                let value = op(req, expected).await?.announce(self.idp);
                let v = version(&value);
                Ok((status, serde_json::json!(value), Some(v)))
            },
        )
        .await
    }
}

macro_rules! write {
    ($idp:ident, $who:ident, $headers:ident, $body:ident) => {
        Write {
            idp: &$idp,
            who: &$who,
            headers: &$headers,
            body: &$body,
        }
    };
}

pub async fn register(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (i, w) = (&*idp, &who);
    write!(idp, who, headers, body)
        .run(
            "register-client",
            StatusCode::CREATED,
            false,
            |r: RegisterClient, _| async move { service::register_client(i, w, &r).await },
            |c: &ClientWithSecret| c.client.version,
        )
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
        .ok_or_else(|| ApiError::not_found("the client"))?;
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
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (i, w, id) = (&*idp, &who, id.as_str());
    write!(idp, who, headers, body)
        .run(
            &format!("update-client {id}"),
            StatusCode::OK,
            true,
            |r: UpdateClient, v| async move { service::update_client(i, w, id, v, &r).await },
            |c: &ClientView| c.version,
        )
        .await
}

pub async fn rotate_secret(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (i, w, id) = (&*idp, &who, id.as_str());
    write!(idp, who, headers, body)
        .run(
            &format!("rotate-secret {id}"),
            StatusCode::OK,
            true,
            |r: RotateClientSecret, v| async move { service::rotate_secret(i, w, id, v, &r).await },
            |c: &ClientWithSecret| c.client.version,
        )
        .await
}

pub async fn retire(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (i, w, id) = (&*idp, &who, id.as_str());
    write!(idp, who, headers, body)
        .run(
            &format!("retire-client {id}"),
            StatusCode::OK,
            true,
            |r: Retirement, v| async move { service::retire_client(i, w, id, v, &r).await },
            |c: &ClientView| c.version,
        )
        .await
}

pub async fn register_app(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (i, w) = (&*idp, &who);
    write!(idp, who, headers, body)
        .run(
            "register-app",
            StatusCode::CREATED,
            false,
            |r: RegisterResourceApp, _| async move { service::register_app(i, w, &r).await },
            |a: &ResourceAppView| a.version,
        )
        .await
}

pub async fn get_app(State(idp): State<SharedIdp>, Path(id): Path<String>) -> ApiResult<Response> {
    let cat = idp.catalog();
    let r = cat
        .apps
        .iter()
        .find(|a| a.item.id == id)
        .ok_or_else(|| ApiError::not_found("the resource app"))?;
    let view = service::app_view(r);
    Ok(with_etag(&view, view.version))
}

pub async fn update_app(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (i, w, id) = (&*idp, &who, id.as_str());
    write!(idp, who, headers, body)
        .run(
            &format!("update-app {id}"),
            StatusCode::OK,
            true,
            |r: UpdateResourceApp, v| async move { service::update_app(i, w, id, v, &r).await },
            |a: &ResourceAppView| a.version,
        )
        .await
}

pub async fn retire_app(
    State(idp): State<SharedIdp>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let (i, w, id) = (&*idp, &who, id.as_str());
    write!(idp, who, headers, body)
        .run(
            &format!("retire-app {id}"),
            StatusCode::OK,
            true,
            |r: Retirement, v| async move { service::retire_app(i, w, id, v, &r).await },
            |a: &ResourceAppView| a.version,
        )
        .await
}
