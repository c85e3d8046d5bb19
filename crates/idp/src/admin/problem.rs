//! Admin API errors as RFC 9457 problem details with stable codes, including the
//! RFC 9470 step-up challenge.

use admin_api::{Problem, codes};
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// An admin API error; boxed so `Result`s stay small on the happy path.
#[derive(Debug)]
pub struct ApiError(pub Box<ApiErrorBody>);

#[derive(Debug)]
pub struct ApiErrorBody {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: Option<String>,
    pub current: Option<serde_json::Value>,
    /// (acr_values, max_age) for a step-up challenge.
    pub step_up: Option<(String, u64)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self(Box::new(ApiErrorBody {
            status,
            code,
            title,
            detail: Some(detail.into()),
            current: None,
            step_up: None,
        }))
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }
    pub fn unauthenticated(d: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHENTICATED,
            "Sign-in required",
            d,
        )
    }
    pub fn forbidden(d: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, "Not allowed", d)
    }
    pub fn sod(d: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            codes::SEPARATION_OF_DUTIES,
            "Separation of duties",
            d,
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            "Not found",
            format!("{what} does not exist"),
        )
    }
    pub fn validation(d: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::VALIDATION,
            "Invalid request",
            d,
        )
    }
    pub fn conflict(d: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, codes::CONFLICT, "Conflict", d)
    }
    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            codes::PRECONDITION_REQUIRED,
            "If-Match required",
            "send the ETag you last read in If-Match",
        )
    }
    pub fn stale(current: serde_json::Value) -> Self {
        let mut e = Self::new(
            StatusCode::PRECONDITION_FAILED,
            codes::PRECONDITION_FAILED,
            "Changed since you read it",
            "someone else changed this first; review the current state and decide again",
        );
        e.0.current = Some(current);
        e
    }
    pub fn idempotency_mismatch() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::IDEMPOTENCY_MISMATCH,
            "Idempotency key reused",
            "this Idempotency-Key was used for a different request",
        )
    }
    pub fn step_up(max_age: u64) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            codes::STEP_UP_REQUIRED,
            "Recent multi-factor sign-in required",
            format!(
                "sign in again with your authenticator (within the last {} minutes) to do this",
                max_age / 60
            ),
        );
        e.0.step_up = Some((xaa::ACR_MFA.into(), max_age));
        e
    }
    pub fn storage(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "admin API storage error");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            "Storage unavailable",
            "the IdP could not reach its database; nothing was changed",
        )
    }

    pub fn problem(&self) -> Problem {
        let b = &self.0;
        Problem {
            type_: format!("https://gatehouse.dev/problems/{}", b.code),
            title: b.title.into(),
            status: b.status.as_u16(),
            code: b.code.into(),
            detail: b.detail.clone(),
            instance: None,
            current: b.current.clone(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::storage(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self.problem()).unwrap_or_default();
        let mut r = (self.0.status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.0.status == StatusCode::UNAUTHORIZED {
            let v = match &self.0.step_up {
                Some((acr, max_age)) => format!(
                    "Bearer error=\"insufficient_user_authentication\", error_description=\"A recent multi-factor sign-in is required\", acr_values=\"{acr}\", max_age={max_age}"
                ),
                None => "Bearer error=\"invalid_token\"".into(),
            };
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&v)
                    .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"invalid_token\"")),
            );
        }
        r
    }
}

impl From<crate::services::ServiceError> for ApiError {
    fn from(e: crate::services::ServiceError) -> Self {
        use crate::services::ServiceError as E;
        match e {
            E::NotFound(what) => ApiError::not_found(what),
            E::Stale(current) => ApiError::stale(current),
            E::Conflict(d) => ApiError::conflict(d),
            E::Invalid(d) => ApiError::validation(d),
            E::SeparationOfDuties(d) => ApiError::sod(d),
            E::Forbidden(d) => ApiError::forbidden(d),
            E::StepUpRequired { max_age } => ApiError::step_up(max_age),
            E::Storage(e) => ApiError::storage(e),
        }
    }
}
