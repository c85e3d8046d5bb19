//! The policy gate before an ID-JAG is minted, as a plain function over facts the
//! caller has gathered: no I/O, so every branch is unit-tested. The order is
//! DESIGN.md's: (client authenticated, subject token valid — checked by the
//! caller) → audience/resource known → an active, unexpired connection → user in
//! an allowed group → scopes narrowed → step-up met → mint.

use crate::{
    config::{ResourceApp, ScopeCondition},
    store::{Connection, ConnectionStatus},
};
use xaa::{ACR_MFA, OAuthError, ScopeSet};

/// Who is asking, as established by the subject token.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub username: &'a str,
    pub groups: &'a [String],
    pub acr: Option<&'a str>,
    pub auth_time: Option<u64>,
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Mint with these scopes and this lifetime.
    Allow {
        scopes: ScopeSet,
        lifetime: u64,
        connection_id: String,
        /// The connection's version, carried in the ID-JAG so a later revocation
        /// (which raises it) refuses exactly the assertions minted before it.
        connection_version: i64,
    },
    /// No usable connection: record a pending request, then answer `access_denied`.
    NoConnection { why: &'static str },
    /// Refused for another reason (the error to answer).
    Refuse(OAuthError),
}

/// Default freshness for sensitive scopes when no rule names a `max_age`.
pub const SENSITIVE_MAX_AGE: u64 = 3600;

/// Applies the connection to the request. `app` and `resource` have already been
/// resolved from the audience (unknown ones are `invalid_target` before this).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    app: &ResourceApp,
    connection: Option<&Connection>,
    resource: Option<&str>,
    requested: Option<&ScopeSet>,
    subject: &Subject<'_>,
    default_lifetime: u64,
    now: i64,
) -> Verdict {
    let Some(conn) = connection else {
        return Verdict::NoConnection {
            why: "no approved connection between this client and resource app",
        };
    };
    match conn.status {
        ConnectionStatus::Active => {}
        ConnectionStatus::Suspended => {
            return Verdict::Refuse(OAuthError::access_denied(
                None,
                "the connection is suspended",
            ));
        }
        _ => {
            return Verdict::NoConnection {
                why: "the connection is no longer active",
            };
        }
    }
    if conn.expires_at.is_some_and(|e| e <= now) {
        return Verdict::NoConnection {
            why: "the connection's approval has expired",
        };
    }
    if let Some(r) = resource
        && !conn.allowed_resources.is_empty()
        && !conn.allowed_resources.iter().any(|a| a == r)
    {
        return Verdict::Refuse(OAuthError::access_denied(
            None,
            "the approved connection does not cover this resource",
        ));
    }
    if !conn.allowed_groups.is_empty()
        && !subject
            .groups
            .iter()
            .any(|g| conn.allowed_groups.contains(g))
    {
        return Verdict::Refuse(OAuthError::access_denied(
            None,
            "the user is not in a group allowed to use this connection",
        ));
    }
    if conn.excluded_users.iter().any(|u| u == subject.username) {
        return Verdict::Refuse(OAuthError::access_denied(
            None,
            "an access review removed this user's access through this connection",
        ));
    }
    let catalogue = ScopeSet::from_iter(app.scopes.iter().map(|s| s.name.clone()));
    let allowed = match &conn.scopes {
        ScopeCondition::All => catalogue.clone(),
        ScopeCondition::IncludeOnly(list) => {
            ScopeSet::from_iter(list.iter().cloned()).intersect(&catalogue)
        }
    };
    let granted = match requested {
        Some(req) => req.intersect(&allowed),
        None => allowed,
    };
    if granted.is_empty() {
        return Verdict::Refuse(OAuthError::invalid_scope(
            "none of the requested scopes is allowed by the approved connection",
        ));
    }
    if let Some(err) = step_up_needed(app, conn, &granted, subject, now) {
        return Verdict::Refuse(err);
    }
    let lifetime = conn
        .id_jag_lifetime
        .unwrap_or(default_lifetime)
        .min(xaa::MAX_ID_JAG_LIFETIME);
    Verdict::Allow {
        scopes: granted,
        lifetime,
        connection_id: conn.id.clone(),
        connection_version: conn.version,
    }
}

/// The strictest step-up requirement over the granted scopes that the subject's
/// authentication does not meet, as an `insufficient_user_authentication` error.
fn step_up_needed(
    app: &ResourceApp,
    conn: &Connection,
    granted: &ScopeSet,
    subject: &Subject<'_>,
    now: i64,
) -> Option<OAuthError> {
    let mut need_acr: Option<String> = None;
    let mut need_max_age: Option<u64> = None;
    for scope in granted.iter() {
        let rule = conn.step_up.iter().find(|r| r.scope == scope);
        let sensitive = app.scope(scope).is_some_and(|s| s.sensitive);
        let acr = rule
            .and_then(|r| r.acr.clone())
            .or_else(|| sensitive.then(|| ACR_MFA.to_string()));
        let max_age = rule
            .and_then(|r| r.max_age)
            .or_else(|| sensitive.then_some(SENSITIVE_MAX_AGE));
        let acr_ok = acr.as_deref().is_none_or(|a| acr_satisfies(subject.acr, a));
        let age_ok = max_age.is_none_or(|m| {
            subject
                .auth_time
                .is_some_and(|t| now - (t as i64) <= m as i64)
        });
        if !acr_ok && acr.is_some() {
            need_acr = acr;
        }
        if !age_ok {
            need_max_age =
                Some(need_max_age.map_or(max_age.unwrap_or(0), |c| c.min(max_age.unwrap_or(0))));
        }
    }
    if need_acr.is_none() && need_max_age.is_none() {
        return None;
    }
    let what = match (&need_acr, need_max_age) {
        (Some(_), Some(_)) => "a stronger and more recent sign-in",
        (Some(_), None) => "a stronger sign-in (multi-factor)",
        _ => "a more recent sign-in",
    };
    Some(OAuthError::step_up(
        need_acr,
        need_max_age,
        format!("the granted scopes require {what}"),
    ))
}

/// Whether an authentication of class `have` satisfies a requirement of `need`:
/// MFA satisfies everything, a password only a password requirement.
pub fn acr_satisfies(have: Option<&str>, need: &str) -> bool {
    match (have, need) {
        (Some(h), n) if h == n => true,
        (Some(ACR_MFA), _) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Risk, ScopeDef, StepUpRule};
    use xaa::{ACR_PASSWORD, ErrorCode};

    fn app() -> ResourceApp {
        let s = |n: &str, risk, sensitive| ScopeDef {
            name: n.into(),
            description: n.into(),
            risk,
            sensitive,
        };
        ResourceApp {
            id: "docs".into(),
            name: "Docs".into(),
            issuer: "https://docs-as".into(),
            mcp_servers: vec!["https://docs/mcp".into(), "https://docs/mcp2".into()],
            client_ids: Default::default(),
            scopes: vec![
                s("docs.read", Risk::Read, false),
                s("docs.write", Risk::Write, false),
                s("docs.admin", Risk::Admin, true),
            ],
            receivers: vec![],
            owners: vec![],
        }
    }

    fn conn() -> Connection {
        Connection {
            id: "c1".into(),
            client_id: "agent".into(),
            resource_app: "docs".into(),
            scopes: ScopeCondition::All,
            allowed_groups: vec![],
            excluded_users: vec![],
            allowed_resources: vec![],
            step_up: vec![],
            id_jag_lifetime: None,
            expires_at: None,
            status: ConnectionStatus::Active,
            approved_by: vec![],
            version: 1,
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn subject<'a>(groups: &'a [String], acr: &'a str) -> Subject<'a> {
        Subject {
            username: "alice",
            groups,
            acr: Some(acr),
            auth_time: Some(NOW as u64 - 60),
        }
    }

    fn run(c: Option<&Connection>, req: Option<&str>, s: &Subject<'_>) -> Verdict {
        let req = req.map(|r| ScopeSet::parse(r).unwrap());
        decide(
            &app(),
            c,
            Some("https://docs/mcp"),
            req.as_ref(),
            s,
            300,
            NOW,
        )
    }

    fn granted(v: Verdict) -> String {
        match v {
            Verdict::Allow { scopes, .. } => scopes.to_string(),
            other => panic!("expected allow, got {other:?}"),
        }
    }

    fn refused(v: Verdict) -> OAuthError {
        match v {
            Verdict::Refuse(e) => e,
            other => panic!("expected refusal, got {other:?}"),
        }
    }

    #[test]
    fn no_connection_asks_for_a_pending_request() {
        assert!(matches!(
            run(None, None, &subject(&[], ACR_PASSWORD)),
            Verdict::NoConnection { .. }
        ));
    }

    #[test]
    fn revoked_and_expired_connections_count_as_none() {
        let mut c = conn();
        c.status = ConnectionStatus::Revoked;
        assert!(matches!(
            run(Some(&c), None, &subject(&[], ACR_PASSWORD)),
            Verdict::NoConnection { .. }
        ));
        let mut c = conn();
        c.expires_at = Some(NOW);
        assert!(matches!(
            run(Some(&c), None, &subject(&[], ACR_PASSWORD)),
            Verdict::NoConnection { .. }
        ));
    }

    #[test]
    fn suspended_is_denied_without_a_new_request() {
        let mut c = conn();
        c.status = ConnectionStatus::Suspended;
        assert_eq!(
            refused(run(Some(&c), None, &subject(&[], ACR_PASSWORD))).error,
            ErrorCode::AccessDenied
        );
    }

    #[test]
    fn scopes_narrow_to_the_approved_set_and_unknown_ones_drop() {
        let mut c = conn();
        c.scopes = ScopeCondition::IncludeOnly(vec!["docs.read".into()]);
        let v = run(
            Some(&c),
            Some("docs.read docs.write bogus"),
            &subject(&[], ACR_PASSWORD),
        );
        assert_eq!(granted(v), "docs.read");
    }

    #[test]
    fn nothing_left_is_invalid_scope() {
        let mut c = conn();
        c.scopes = ScopeCondition::IncludeOnly(vec!["docs.read".into()]);
        let e = refused(run(
            Some(&c),
            Some("docs.write"),
            &subject(&[], ACR_PASSWORD),
        ));
        assert_eq!(e.error, ErrorCode::InvalidScope);
    }

    #[test]
    fn a_user_removed_by_an_access_review_is_refused_and_only_them() {
        let mut c = conn();
        let groups: Vec<String> = vec![];
        let s = subject(&groups, ACR_PASSWORD);
        c.excluded_users = vec![s.username.to_string()];
        let e = refused(run(Some(&c), Some("docs.read"), &s));
        assert_eq!(e.error, ErrorCode::AccessDenied);
        assert!(e.to_string().contains("access review"));
        c.excluded_users = vec!["someone-else".into()];
        assert_eq!(granted(run(Some(&c), Some("docs.read"), &s)), "docs.read");
    }

    #[test]
    fn group_restriction_refuses_outsiders() {
        let mut c = conn();
        c.allowed_groups = vec!["engineering".into()];
        let e = refused(run(
            Some(&c),
            Some("docs.read"),
            &subject(&["sales".into()], ACR_PASSWORD),
        ));
        assert_eq!(e.error, ErrorCode::AccessDenied);
        assert!(e.to_string().contains("group"));
        let ok = run(
            Some(&c),
            Some("docs.read"),
            &subject(&["engineering".into()], ACR_PASSWORD),
        );
        assert_eq!(granted(ok), "docs.read");
    }

    #[test]
    fn resource_restriction_is_enforced() {
        let mut c = conn();
        c.allowed_resources = vec!["https://docs/mcp2".into()];
        let e = refused(run(
            Some(&c),
            Some("docs.read"),
            &subject(&[], ACR_PASSWORD),
        ));
        assert!(e.to_string().contains("resource"));
    }

    #[test]
    fn sensitive_scope_needs_mfa_by_default() {
        let e = refused(run(
            Some(&conn()),
            Some("docs.admin"),
            &subject(&[], ACR_PASSWORD),
        ));
        assert_eq!(e.error, ErrorCode::InsufficientUserAuthentication);
        assert_eq!(e.acr_values.as_deref(), Some(ACR_MFA));
        assert_eq!(
            granted(run(
                Some(&conn()),
                Some("docs.admin"),
                &subject(&[], ACR_MFA)
            )),
            "docs.admin"
        );
    }

    #[test]
    fn step_up_rule_max_age_is_enforced() {
        let mut c = conn();
        c.step_up = vec![StepUpRule {
            scope: "docs.write".into(),
            acr: None,
            max_age: Some(30),
        }];
        let e = refused(run(Some(&c), Some("docs.write"), &subject(&[], ACR_MFA)));
        assert_eq!(e.error, ErrorCode::InsufficientUserAuthentication);
        assert_eq!(e.max_age, Some(30));
        assert_eq!(e.acr_values, None);
    }

    #[test]
    fn lifetime_is_capped_at_300() {
        let mut c = conn();
        c.id_jag_lifetime = Some(900);
        match run(Some(&c), Some("docs.read"), &subject(&[], ACR_PASSWORD)) {
            Verdict::Allow { lifetime, .. } => assert_eq!(lifetime, 300),
            v => panic!("{v:?}"),
        }
    }
}
