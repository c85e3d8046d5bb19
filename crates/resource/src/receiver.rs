//! The resource app's revocation receiver (RFC 8935 push delivery of RFC 8417
//! Security Event Tokens). A verified "connection revoked" event kills every
//! access token this AS issued to that client (or that user) and refuses any
//! ID-JAG minted before the event, so no token from the revoked connection
//! survives. Answers `202 Accepted`, or `400` with an RFC 8935 error code.

use crate::server::AppState;
use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;
use std::sync::Arc;
use xaa::{ReplayCache, TYP_SET, jws::JwsError};

/// A revocation as this AS remembers it: who, and what it revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationMark {
    /// The client id at this AS, or `None` for every client.
    pub client_id: Option<String>,
    /// The user, or `None` for every user.
    pub sub: Option<String>,
    /// The connection revoked and its version after the revocation: ID-JAGs of
    /// that connection minted at this version or before are refused — an exact
    /// order, so a connection re-approved (a new id) or resumed (a higher
    /// version) in the same second is honoured at once.
    pub connection: Option<(String, i64)>,
    /// Unix seconds: when the mark names no connection (a user cut off
    /// everywhere), or the assertion carries none, ID-JAGs issued at or before
    /// this are refused.
    pub at: u64,
}

/// What an ID-JAG or an access token says about where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Issued<'a> {
    pub client_id: &'a str,
    pub sub: &'a str,
    /// (connection id, its version) from the ID-JAG's Gatehouse claims.
    pub connection: Option<(&'a str, i64)>,
    pub iat: u64,
}

impl RevocationMark {
    pub fn covers(&self, client_id: &str, sub: &str) -> bool {
        self.client_id.as_deref().is_none_or(|c| c == client_id)
            && self.sub.as_deref().is_none_or(|s| s == sub)
    }

    /// Whether this mark revokes what was issued as `i`.
    pub fn revokes(&self, i: &Issued<'_>) -> bool {
        if !self.covers(i.client_id, i.sub) {
            return false;
        }
        match (&self.connection, i.connection) {
            (Some((id, version)), Some((got_id, got_version))) => {
                id == got_id && got_version <= *version
            }
            _ => i.iat <= self.at,
        }
    }
}

fn err(code: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "err": code, "description": description })),
    )
        .into_response()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

pub async fn receive(State(app): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(set) = std::str::from_utf8(&body) else {
        return err("invalid_request", "the body is not a SET");
    };
    let set = set.trim();
    let Ok(mut keys) = app.jwks.keys().await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"err": "invalid_key", "description": "the issuer's keys are unavailable"})),
        )
            .into_response();
    };
    let mut verified = xaa::jws::verify_compact(set, &keys, Some(TYP_SET), 16 * 1024);
    if matches!(verified, Err(JwsError::UnknownKey)) {
        keys = app.jwks.refresh(false).await.unwrap_or(keys);
        verified = xaa::jws::verify_compact(set, &keys, Some(TYP_SET), 16 * 1024);
    }
    let v = match verified {
        Ok(v) => v,
        Err(JwsError::UnknownKey | JwsError::BadSignature | JwsError::AlgKeyMismatch) => {
            return err(
                "invalid_key",
                "the SET's signature does not verify with the trusted IdP's keys",
            );
        }
        Err(e) => return err("invalid_request", &e.to_string()),
    };
    let event = match xaa::set::parse(
        &v.payload,
        &app.config.trusted_idp.issuer,
        &app.config.issuer,
        now(),
    ) {
        Ok(e) => e,
        Err(e) => return err(e.code(), &e.to_string()),
    };
    let Some(revocation) = event.revocation else {
        // RFC 8935: an event type we do not act on is still accepted.
        return StatusCode::ACCEPTED.into_response();
    };
    // A replayed SET is acknowledged again (push delivery retries), without effect.
    if !app.set_replay.check_and_record(
        &app.config.trusted_idp.issuer,
        &event.jti,
        event.iat + 7 * 86400,
        now(),
    ) {
        return StatusCode::ACCEPTED.into_response();
    }
    let mark = RevocationMark {
        client_id: revocation.client_id,
        sub: revocation.sub,
        connection: revocation.connection,
        at: revocation.revoked_at,
    };
    app.revocations
        .write()
        .expect("revocations lock")
        .push(mark.clone());
    let killed = app.tokens.revoke_where(|g| mark.revokes(&g.issued()));
    tracing::info!(app = %app.config.id, client = ?mark.client_id, sub = ?mark.sub, killed, "revocation event applied");
    StatusCode::ACCEPTED.into_response()
}
