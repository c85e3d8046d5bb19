//! The resource authorization server: RFC 8414 metadata advertising the ID-JAG
//! grant profile, and `/token` redeeming ID-JAGs (RFC 7523) into short-lived,
//! audience-restricted access tokens. No refresh tokens.

use crate::{server::AppState, tokens::AccessGrant};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde_json::json;
use std::sync::Arc;
use xaa::{
    JwtBearerRequest, OAuthError, ScopeSet,
    idjag::{self, IdJagPolicy, VerifyError},
    jws::JwsError,
    request::Form,
    util,
};

pub async fn metadata(State(app): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let iss = &app.config.issuer;
    Json(json!({
        "issuer": iss,
        "token_endpoint": format!("{iss}/token"),
        // This AS issues tokens for ID-JAGs only (RFC 7523 with the ID-JAG
        // profile); no response type can be obtained at its authorization
        // endpoint, and the metadata says exactly that: the members the official
        // MCP SDKs' schemas require are present, and true. The endpoint exists
        // and answers every request as RFC 6749 §4.1.2.1 says for a client
        // without a registered redirect URI: an error page, never a redirect.
        "authorization_endpoint": format!("{iss}/authorize"),
        "response_types_supported": [],
        "code_challenge_methods_supported": [],
        "grant_types_supported": [xaa::GRANT_JWT_BEARER],
        "authorization_grant_profiles_supported": [xaa::GRANT_PROFILE_ID_JAG],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": app.config.scopes,
        "revocation_event_endpoint": format!("{iss}/revocation-events"),
    }))
}

pub async fn protected_resource_metadata(
    State(app): State<Arc<AppState>>,
) -> Json<serde_json::Value> {
    Json(json!({
        "resource": app.config.mcp_url(),
        "authorization_servers": [app.config.issuer],
        "scopes_supported": app.config.scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": app.config.name,
    }))
}

pub async fn authorize_page() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html("<!doctype html><title>Not available</title><p>This authorization server only accepts identity assertions (ID-JAG) at its token endpoint.</p>"),
    )
        .into_response()
}

fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        e.to_json(),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if e.error == xaa::ErrorCode::InvalidClient {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"resource\""),
        );
    }
    r
}

pub async fn token(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match redeem(&app, &headers, &body).await {
        Ok(v) => {
            let mut r = Json(v).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::info!(app = %app.config.id, error = %e.error.as_str(), "ID-JAG refused");
            oauth_error(e)
        }
    }
}

fn client_failed() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

/// `client_secret_basic` or `client_secret_post`, one of them.
fn authenticate(app: &AppState, headers: &HeaderMap, form: &Form) -> Result<String, OAuthError> {
    let basic = xaa::request::basic_credentials(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )?;
    let post = match (form.get("client_id"), form.get("client_secret")) {
        (Some(i), Some(s)) => Some((i.to_owned(), s.to_owned())),
        _ => None,
    };
    let (id, secret) = match (basic, post) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use only one client authentication method",
            ));
        }
        (Some(c), None) | (None, Some(c)) => c,
        (None, None) => {
            return Err(OAuthError::invalid_client(
                "client authentication is required",
            ));
        }
    };
    let client = app
        .config
        .clients
        .iter()
        .find(|c| c.client_id == id)
        .ok_or_else(client_failed)?;
    let presented = util::sha256_hex(secret.as_bytes());
    if !util::constant_time_eq(presented.as_bytes(), client.secret_sha256.as_bytes()) {
        return Err(client_failed());
    }
    Ok(id)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn redeem(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    let form = Form::parse(body)?;
    let client_id = authenticate(app, headers, &form)?;
    let req = JwtBearerRequest::from_form(&form)?;
    let policy = IdJagPolicy::new(&app.config.trusted_idp.issuer, &app.config.issuer);
    let unavailable = |e: oidc_rp::JwksError| {
        tracing::warn!(error = %e, "JWKS fetch failed");
        OAuthError::new(
            xaa::ErrorCode::TemporarilyUnavailable,
            "the trusted IdP's keys are unavailable",
        )
    };
    let keys = app.jwks.keys().await.map_err(unavailable)?;
    let now = now();
    let mut result = idjag::check(&req.assertion, &keys, &policy, &client_id, now);
    if matches!(result, Err(VerifyError::Jws(JwsError::UnknownKey))) {
        // The IdP may have rotated its key: refetch once (rate-limited) and retry.
        let keys = app.jwks.refresh(false).await.map_err(unavailable)?;
        result = idjag::check(&req.assertion, &keys, &policy, &client_id, now);
    }
    let claims = result.map_err(|e| OAuthError::invalid_grant(e.to_string()))?;
    let servers = [app.config.mcp_url()];
    let resource = match (&claims.resource, &req.resource) {
        (Some(c), Some(r)) if c != r => {
            return Err(OAuthError::invalid_target(
                "resource differs from the one in the assertion",
            ));
        }
        (Some(c), _) => c.clone(),
        (None, Some(r)) => r.clone(),
        (None, None) => servers[0].clone(),
    };
    if !servers.contains(&resource) {
        return Err(OAuthError::invalid_target(
            "the resource is not served here",
        ));
    }
    let known = ScopeSet::from_iter(app.config.scopes.iter().cloned());
    let asserted = claims
        .scope
        .as_deref()
        .and_then(ScopeSet::parse)
        .unwrap_or_default()
        .intersect(&known);
    // Issued: what was asked, within what the ID-JAG carries (the profile's
    // intersection); nothing at all in common is a refusal, not an empty token.
    let scopes = match &req.scope {
        Some(asked) => asked.intersect(&asserted),
        None => asserted,
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "none of the requested scopes is carried by the assertion",
        ));
    }
    let lifetime = app.config.access_token_lifetime.min(300);
    // The grant this assertion would get; a revocation mark is checked against
    // it exactly as the receiver checks the tokens already issued.
    let grant = AccessGrant {
        sub: claims.sub.clone(),
        client_id: client_id.clone(),
        scopes: scopes.clone(),
        resource: resource.clone(),
        exp: now + lifetime,
        idp_issuer: claims.iss.clone(),
        id_jag_jti: claims.jti.clone(),
        connection: claims
            .connection()
            .map(|(id, version)| (id.to_owned(), version)),
        id_jag_iat: claims.iat,
    };
    let revoked = app
        .revocations
        .read()
        .expect("revocations lock")
        .iter()
        .any(|m| m.revokes(&grant.issued()));
    if revoked {
        return Err(OAuthError::invalid_grant(
            "the connection this assertion was issued under has been revoked",
        ));
    }
    // Every check passed: only now is the assertion used up (single use, MCP profile).
    idjag::consume(&claims, &app.replay, now)
        .map_err(|e| OAuthError::invalid_grant(e.to_string()))?;
    let token = app.tokens.issue(grant, now);
    tracing::info!(app = %app.config.id, sub = %claims.sub, client = %client_id, scope = %scopes, "access token issued");
    Ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scopes.to_string(),
    }))
}
