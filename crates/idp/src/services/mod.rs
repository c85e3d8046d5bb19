//! The domain operations behind the admin API: decide a request, change a
//! connection's status or grant, and what every decision needs (who acts, the
//! audit event of their action, the errors a decision can end in). Each
//! operation opens its own write transaction, commits the decision, its audit
//! event and its change rows as one, and returns a typed outcome with the
//! changes to announce; handlers only parse, call a service and render. The
//! store below knows nothing of this; nothing here knows HTTP.

pub mod connections;
pub mod directory;
pub mod findings;
pub mod kills;
pub mod lifecycle;
pub mod notifications;
pub mod ownership;
pub mod registry;
pub mod renewal;
pub mod requests;
pub mod reviews;

use crate::state::Idp;
use admin_api::{ChangeEvent, ChangeKind, Role};
use std::collections::BTreeSet;

/// Why a decision was not made. Nothing was committed when one is returned.
#[derive(Debug)]
pub enum ServiceError {
    /// The named thing (e.g. "the request") does not exist.
    NotFound(&'static str),
    /// The caller decided on a version that is no longer current (the current
    /// state is attached, so they can review it and decide again).
    Stale(serde_json::Value),
    /// The thing is not in a state this decision applies to.
    Conflict(String),
    /// The decision itself is malformed or outside what is allowed.
    Invalid(String),
    /// The caller may not make this decision about their own access.
    SeparationOfDuties(String),
    /// The caller's role does not allow this decision.
    Forbidden(String),
    /// RFC 9470: a recent multi-factor sign-in is needed first.
    StepUpRequired { max_age: u64 },
    /// The database failed; the transaction was rolled back.
    Storage(sqlx::Error),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn invalid(d: impl Into<String>) -> Self {
        Self::Invalid(d.into())
    }
    pub fn conflict(d: impl Into<String>) -> Self {
        Self::Conflict(d.into())
    }
    pub fn sod(d: impl Into<String>) -> Self {
        Self::SeparationOfDuties(d.into())
    }
    pub fn forbidden(d: impl Into<String>) -> Self {
        Self::Forbidden(d.into())
    }
    pub fn stale(current: &impl serde::Serialize) -> Self {
        Self::Stale(serde_json::to_value(current).unwrap_or_default())
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(e)
    }
}

/// A committed decision: its outcome and what must be announced before it is
/// acknowledged.
#[must_use = "a committed change must be announced before it is acknowledged"]
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    /// The change-feed rows the transaction wrote.
    pub changes: Vec<ChangeEvent>,
    /// Connections changed: the gate's cache must forget them and the
    /// revocation outbox may have work.
    pub connections_changed: bool,
}

impl<T> Committed<T> {
    /// Makes the commit visible: the gate's cache sees it at once, refusals
    /// counted against a decided request stop, the outbox pushes now, the
    /// change feed wakes. Returns the outcome.
    pub fn announce(self, idp: &Idp) -> T {
        if self.connections_changed {
            idp.connections.invalidate();
            idp.outbox_wake.notify_one();
        }
        for c in &self.changes {
            if c.kind == ChangeKind::RequestDecided {
                idp.refusals.forget_request(&c.target);
            }
        }
        if !self.changes.is_empty() {
            idp.feed_wake.notify_one();
        }
        self.value
    }
}

/// Announces committed change rows written outside a service (a filed
/// request, a receipt): the change feed (`jobs`) reads them from the database
/// and broadcasts them in commit order with every other node's.
pub fn publish(idp: &Idp, events: Vec<ChangeEvent>) {
    if !events.is_empty() {
        idp.feed_wake.notify_one();
    }
}

/// An audit event for an actor's decision, carrying their role and request id.
pub fn actor_event(who: &Principal, kind: &str, target: &str) -> crate::audit::AuditEvent {
    let mut e = crate::audit::AuditEvent::new(kind, crate::audit::AuditOutcome::Success);
    e.actor = Some(who.subject.clone());
    e.target = Some(target.to_owned());
    e.detail = serde_json::json!({ "role": who.role_label(), "request_id": who.request_id });
    e
}

/// The clients and apps whose configured names contain `needle` (names live in
/// the config, not in the tables), for a free-text search.
pub fn text_search(idp: &Idp, needle: &str) -> idp_store::connections::TextSearch {
    let n = needle.to_lowercase();
    let cat = idp.catalog();
    idp_store::connections::TextSearch {
        needle: needle.to_owned(),
        named_clients: cat
            .clients
            .iter()
            .filter(|c| c.item.name.to_lowercase().contains(&n))
            .map(|c| c.item.client_id.clone())
            .collect(),
        named_apps: cat
            .apps
            .iter()
            .filter(|a| a.item.name.to_lowercase().contains(&n))
            .map(|a| a.item.id.clone())
            .collect(),
    }
}

/// A reason a person must give (1 to 2000 characters), trimmed.
pub fn required_reason(reason: &str) -> ServiceResult<&str> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 2000 {
        return Err(ServiceError::invalid(
            "a reason (1 to 2000 characters) is required",
        ));
    }
    Ok(r)
}

/// How long an MFA sign-in counts as recent for approver step-up (RFC 9470).
pub const STEP_UP_MAX_AGE: u64 = 600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    Session,
    ApiToken { id: String },
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub roles: BTreeSet<Role>,
    pub acr: Option<String>,
    pub auth_time: Option<i64>,
    pub kind: PrincipalKind,
    /// This HTTP request's id: in the audit event and the `X-Request-Id` header.
    pub request_id: String,
}

impl Principal {
    pub fn has(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }

    /// The role to record in audit events: the most powerful one used.
    pub fn role_label(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// RFC 9470: an MFA sign-in within the last ten minutes, or a 401 challenge.
    pub fn require_recent_mfa(&self, now: i64) -> ServiceResult<()> {
        let recent = self.kind == PrincipalKind::Session
            && self.acr.as_deref() == Some(xaa::ACR_MFA)
            && self
                .auth_time
                .is_some_and(|t| now - t <= STEP_UP_MAX_AGE as i64);
        if recent {
            Ok(())
        } else {
            Err(ServiceError::StepUpRequired {
                max_age: STEP_UP_MAX_AGE,
            })
        }
    }
}
