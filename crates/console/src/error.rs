//! Errors as they cross IPC: `{code, message}`. The UI branches on the stable
//! `code`; people read the `message`, which never holds a token.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    KeychainUnavailable,
    NotSignedIn,
    Locked,
    IdpUnreachable,
    DiscoveryFailed,
    SignInFailed,
    SignInTimedOut,
    SessionExpired,
    StepUpRequired,
    Forbidden,
    Conflict,
    Stale,
    Invalid,
    NotFound,
    Internal,
}

#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, thiserror::Error,
)]
#[error("{message}")]
pub struct ConsoleError {
    pub code: ErrorCode,
    pub message: String,
}

impl ConsoleError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<admin_api::ClientError> for ConsoleError {
    fn from(e: admin_api::ClientError) -> Self {
        use admin_api::codes;
        let code = match e.code() {
            Some(codes::STEP_UP_REQUIRED) => ErrorCode::StepUpRequired,
            Some(codes::UNAUTHENTICATED) => ErrorCode::SessionExpired,
            Some(codes::FORBIDDEN | codes::SEPARATION_OF_DUTIES) => ErrorCode::Forbidden,
            Some(codes::PRECONDITION_FAILED) => ErrorCode::Stale,
            Some(codes::CONFLICT | codes::IDEMPOTENCY_MISMATCH) => ErrorCode::Conflict,
            Some(codes::NOT_FOUND) => ErrorCode::NotFound,
            Some(codes::VALIDATION | codes::PRECONDITION_REQUIRED) => ErrorCode::Invalid,
            Some(_) => ErrorCode::Internal,
            None => match e {
                admin_api::ClientError::Unreachable(_) => ErrorCode::IdpUnreachable,
                _ => ErrorCode::Internal,
            },
        };
        let message = match &e {
            admin_api::ClientError::Problem(p, _) => {
                p.detail.clone().unwrap_or_else(|| p.title.clone())
            }
            admin_api::ClientError::Unreachable(_) => {
                "The IdP cannot be reached. Check the network; nothing was changed.".into()
            }
            admin_api::ClientError::Protocol(m) => format!("The IdP answered unexpectedly: {m}"),
        };
        Self { code, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipc_shape_is_code_and_message() {
        let e = ConsoleError::new(
            ErrorCode::KeychainUnavailable,
            "System keychain is not available",
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"keychain_unavailable","message":"System keychain is not available"}"#
        );
    }
}
