//! Turns OAuth errors into HTTP responses: RFC 6749 §5.2 JSON, the right status,
//! `Cache-Control: no-store`, and `WWW-Authenticate` for `invalid_client`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use xaa::{ErrorCode, OAuthError};

/// An OAuth error on its way out.
pub struct OAuthResponse(pub OAuthError);

impl From<OAuthError> for OAuthResponse {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl IntoResponse for OAuthResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, self.0.to_json()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.0.error == ErrorCode::TemporarilyUnavailable {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.0.error == ErrorCode::InvalidClient {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gatehouse\""),
            );
        }
        resp
    }
}

/// JSON success with the no-store headers token responses need.
pub fn token_json(body: serde_json::Value) -> Response {
    let mut resp = axum::Json(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// A database failure: logged (no secrets in sqlx errors), answered as `server_error`.
pub fn db_error(e: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %e, "storage error");
    OAuthError::server_error("the IdP could not reach its storage")
}
