//! Revocation Security Event Tokens (RFC 8417) as a receiver reads them, once the
//! signature verified: issuer, audience, `jti`/`iat`, and the Gatehouse
//! "connection revoked" event with its subject (client and/or user) and the
//! connection and version it revokes. Other event types are accepted without
//! effect (RFC 8935). Errors carry the RFC 8935 error code to answer.

use crate::EVENT_CONNECTION_REVOKED;
use serde_json::Value;

/// A "connection revoked" event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationEvent {
    /// The client id at the receiving AS, or `None` for every client.
    pub client_id: Option<String>,
    /// The user, or `None` for every user.
    pub sub: Option<String>,
    /// The connection revoked and its version after the revocation.
    pub connection: Option<(String, i64)>,
    /// Unix seconds of the revocation (never before the SET's `iat`).
    pub revoked_at: u64,
}

/// What a verified SET says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    pub jti: String,
    pub iat: u64,
    /// `None`: an event type this receiver does not act on.
    pub revocation: Option<RevocationEvent>,
}

/// Why a SET is refused, as RFC 8935 names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error("the SET was not issued by the trusted IdP")]
    InvalidIssuer,
    #[error("the SET is not addressed to this authorization server")]
    InvalidAudience,
}

impl SetError {
    /// The RFC 8935 `err` value.
    pub fn code(&self) -> &'static str {
        match self {
            SetError::InvalidRequest(_) => "invalid_request",
            SetError::InvalidIssuer => "invalid_issuer",
            SetError::InvalidAudience => "invalid_audience",
        }
    }
}

/// How far `iat` may be in the future, and how old a SET may be, in seconds.
const FUTURE_SKEW: u64 = 60;
const MAX_AGE: u64 = 7 * 86400;

/// Reads the claims of a verified SET addressed to `audience` from `issuer`.
pub fn parse(
    payload: &[u8],
    issuer: &str,
    audience: &str,
    now: u64,
) -> Result<SecurityEvent, SetError> {
    let c: Value = serde_json::from_slice(payload)
        .map_err(|_| SetError::InvalidRequest("claims are not JSON"))?;
    if c["iss"].as_str() != Some(issuer) {
        return Err(SetError::InvalidIssuer);
    }
    let aud_ok = match &c["aud"] {
        Value::String(a) => a == audience,
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(SetError::InvalidAudience);
    }
    let (Some(jti), Some(iat)) = (c["jti"].as_str(), c["iat"].as_u64()) else {
        return Err(SetError::InvalidRequest("jti and iat are required"));
    };
    if jti.is_empty() || jti.len() > 256 {
        return Err(SetError::InvalidRequest("jti is empty or too long"));
    }
    if iat > now.saturating_add(FUTURE_SKEW) || iat.saturating_add(MAX_AGE) < now {
        return Err(SetError::InvalidRequest("iat is out of range"));
    }
    let Some(event) = c["events"].get(EVENT_CONNECTION_REVOKED) else {
        return Ok(SecurityEvent {
            jti: jti.to_owned(),
            iat,
            revocation: None,
        });
    };
    let fields = &event["subject"]["fields"];
    let client_id = fields["client"]["id"].as_str().map(str::to_owned);
    let sub = fields["user"]["id"].as_str().map(str::to_owned);
    if client_id.is_none() && sub.is_none() {
        return Err(SetError::InvalidRequest(
            "the event names neither a client nor a user",
        ));
    }
    let connection = match (
        event["connection_id"].as_str(),
        event["connection_version"].as_i64(),
    ) {
        (Some(id), Some(v)) => Some((id.to_owned(), v)),
        _ => None,
    };
    Ok(SecurityEvent {
        jti: jti.to_owned(),
        iat,
        revocation: Some(RevocationEvent {
            client_id,
            sub,
            connection,
            revoked_at: event["revoked_at"].as_u64().unwrap_or(iat).max(iat),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn set(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn revoked(fields: Value, extra: Value) -> Value {
        let mut e =
            json!({ "subject": { "format": "complex", "fields": fields }, "revoked_at": NOW });
        if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
            e.extend(x.clone());
        }
        json!({ "iss": "https://idp", "aud": "https://as", "jti": "set_1", "iat": NOW,
                "events": { EVENT_CONNECTION_REVOKED: e } })
    }

    #[test]
    fn a_revocation_names_client_user_and_connection() {
        let p = set(revoked(
            json!({ "client": { "format": "opaque", "id": "agent" } }),
            json!({ "connection_id": "conn_1", "connection_version": 4 }),
        ));
        let e = parse(&p, "https://idp", "https://as", NOW).unwrap();
        let r = e.revocation.unwrap();
        assert_eq!(r.client_id.as_deref(), Some("agent"));
        assert_eq!(r.sub, None);
        assert_eq!(r.connection, Some(("conn_1".into(), 4)));
    }

    #[test]
    fn issuer_audience_times_and_subject_are_checked() {
        let ok = revoked(json!({ "user": { "id": "alice" } }), json!({}));
        let mut wrong_iss = ok.clone();
        wrong_iss["iss"] = json!("https://other");
        assert_eq!(
            parse(&set(wrong_iss), "https://idp", "https://as", NOW),
            Err(SetError::InvalidIssuer)
        );
        let mut wrong_aud = ok.clone();
        wrong_aud["aud"] = json!(["https://x"]);
        assert_eq!(
            parse(&set(wrong_aud), "https://idp", "https://as", NOW),
            Err(SetError::InvalidAudience)
        );
        let mut future = ok.clone();
        future["iat"] = json!(NOW + 3600);
        assert!(parse(&set(future), "https://idp", "https://as", NOW).is_err());
        let nobody = revoked(json!({}), json!({}));
        assert_eq!(
            parse(&set(nobody), "https://idp", "https://as", NOW)
                .unwrap_err()
                .code(),
            "invalid_request"
        );
        let mut other = ok.clone();
        other["events"] = json!({ "https://example/other": {} });
        assert_eq!(
            parse(&set(other), "https://idp", "https://as", NOW)
                .unwrap()
                .revocation,
            None
        );
        assert!(parse(b"{not json", "https://idp", "https://as", NOW).is_err());
    }
}
