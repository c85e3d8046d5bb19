//! OAuth 2.0 error responses (RFC 6749 §5.2 and the extensions XAA uses), each with
//! its HTTP status, rendered as the JSON body clients parse.

use serde::{Deserialize, Serialize};

/// The `error` codes Gatehouse's token endpoints answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    InsufficientUserAuthentication,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::InsufficientUserAuthentication => "insufficient_user_authentication",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status RFC 6749 §5.2 (and RFC 8693/9470 by extension) gives the code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// An OAuth error response. `Display` never includes a token: descriptions are
/// written by us, never echoed from input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// Step-up: the `max_age` the user's authentication must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// Step-up: the `acr` values that would satisfy the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
    /// Policy refusal: the pending connection request this refusal recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_request_id: Option<String>,
}

impl OAuthError {
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
            max_age: None,
            acr_values: None,
            connection_request_id: None,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_target(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTarget, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn server_error(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, d)
    }

    /// Step-up required: the subject token's authentication is too weak or too old.
    pub fn step_up(acr_values: Option<String>, max_age: Option<u64>, d: impl Into<String>) -> Self {
        Self {
            acr_values,
            max_age,
            ..Self::new(ErrorCode::InsufficientUserAuthentication, d)
        }
    }

    /// Policy refusal naming the pending request it recorded.
    pub fn access_denied(request_id: Option<String>, d: impl Into<String>) -> Self {
        Self {
            connection_request_id: request_id,
            ..Self::new(ErrorCode::AccessDenied, d)
        }
    }

    pub fn status(&self) -> u16 {
        self.error.status()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("error serializes")
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error.as_str())?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rfc6749_json_with_extensions_only_when_set() {
        let e = OAuthError::invalid_grant("expired");
        assert_eq!(
            e.to_json(),
            r#"{"error":"invalid_grant","error_description":"expired"}"#
        );
        let s = OAuthError::step_up(Some("urn:gatehouse:acr:mfa".into()), Some(300), "mfa");
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["error"], "insufficient_user_authentication");
        assert_eq!(v["acr_values"], "urn:gatehouse:acr:mfa");
        assert_eq!(v["max_age"], 300);
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.status(), 400);
        assert_eq!(ErrorCode::UnsupportedGrantType.status(), 400);
        assert_eq!(ErrorCode::AccessDenied.status(), 400);
        assert_eq!(ErrorCode::ServerError.status(), 500);
    }
}
