//! Who is calling the admin API and what they may do. A bearer token is either an
//! access token this IdP issued at sign-in *to an admin client with the admin
//! scope* (roles from the user's groups, `acr` and `auth_time` from the sign-in)
//! or an admin API token (roles fixed at creation). Nothing else is honoured: not
//! an AI client's access token, an ID token, an ID-JAG or a resource AS token. Every route's allowed roles come from `admin_api::openapi::routes()`,
//! the same table the OpenAPI document is generated from.

use super::problem::{ApiError, ApiResult};
use crate::state::SharedIdp;
use admin_api::Role;
use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::collections::HashMap;
use xaa::util;

pub use crate::services::{Principal, PrincipalKind, STEP_UP_MAX_AGE};

/// Prefix of admin API tokens, so scanners and people can recognise them.
pub const API_TOKEN_PREFIX: &str = "gh_adm_";

/// (method, path template) → roles allowed.
pub struct RouteRoles(HashMap<(String, String), Vec<Role>>);

impl RouteRoles {
    pub fn from_contract() -> Self {
        Self(
            admin_api::openapi::routes()
                .into_iter()
                .map(|r| {
                    (
                        (
                            r.method.to_uppercase(),
                            format!("{}{}", admin_api::BASE, r.path),
                        ),
                        r.roles.to_vec(),
                    )
                })
                .collect(),
        )
    }
}

async fn resolve(idp: &SharedIdp, token: &str) -> ApiResult<Principal> {
    let now = idp.now();
    let hash = util::sha256_hex(token.as_bytes());
    if token.starts_with(API_TOKEN_PREFIX) {
        let t = idp
            .store
            .api_token_by_hash(&hash)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("the API token is not valid"))?;
        if t.revoked || t.expires_at <= now {
            return Err(ApiError::unauthenticated(
                "the API token is expired or revoked",
            ));
        }
        idp.store.touch_api_token(&t.id, now).await?;
        return Ok(Principal {
            subject: format!("api-token:{}", t.created_by),
            roles: t.roles.into_iter().collect(),
            acr: None,
            auth_time: None,
            kind: PrincipalKind::ApiToken { id: t.id },
            request_id: String::new(),
        });
    }
    let row =
        idp.store.access_token(&hash, now).await?.ok_or_else(|| {
            ApiError::unauthenticated("the access token is not valid or has expired")
        })?;
    // Only a sign-in at an admin client (the console) that was granted the admin
    // scope reaches the admin API: an AI client that gets an approver to sign in
    // to it must not be able to act as that approver.
    if !idp
        .catalog()
        .client(&row.client_id)
        .is_some_and(|c| c.admin)
    {
        return Err(ApiError::unauthenticated(
            "this access token was issued to a client that is not an admin client; sign in through the Gatehouse console",
        ));
    }
    if !row.scope.split(' ').any(|s| s == admin_api::ADMIN_SCOPE) {
        return Err(ApiError::unauthenticated(format!(
            "this access token lacks the `{}` scope; sign in through the Gatehouse console",
            admin_api::ADMIN_SCOPE
        )));
    }
    let person = match idp.person(&row.username).await? {
        Some(p) if p.active => p,
        Some(_) => return Err(ApiError::unauthenticated("the account is deactivated")),
        None => return Err(ApiError::unauthenticated("the account no longer exists")),
    };
    Ok(Principal {
        roles: idp
            .config
            .roles_of_groups(&person.groups)
            .into_iter()
            .collect(),
        subject: row.username,
        acr: row.acr,
        auth_time: row.auth_time,
        kind: PrincipalKind::Session,
        request_id: String::new(),
    })
}

/// Authenticates the caller and checks the route's roles before any handler runs.
pub async fn authorize(State(idp): State<SharedIdp>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(token) = token else {
        return ApiError::unauthenticated("send an access token or API token as a Bearer token")
            .into_response();
    };
    let mut principal = match resolve(&idp, &token).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    // The id the request's log lines and response header carry.
    principal.request_id = req
        .extensions()
        .get::<crate::request_id::RequestId>()
        .map_or_else(
            || format!("rq_{}", uuid::Uuid::new_v4().simple()),
            |r| r.0.clone(),
        );
    let request_id = principal.request_id.clone();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let key = (req.method().as_str().to_owned(), template);
    let allowed = idp.admin_routes.0.get(&key);
    match allowed {
        Some(roles) if roles.iter().any(|r| principal.has(*r)) => {}
        Some(_) => {
            return ApiError::forbidden(format!(
                "your roles ({}) do not allow this",
                if principal.roles.is_empty() {
                    "none".into()
                } else {
                    principal.role_label()
                }
            ))
            .into_response();
        }
        None => {
            return ApiError::forbidden("this route is not in the admin API contract")
                .into_response();
        }
    }
    req.extensions_mut().insert(principal);
    let mut resp = next.run(req).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
