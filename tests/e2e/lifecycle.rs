//! Lifecycle policies over loopback, on the demo IdP's clock: an admin sets
//! them (others may only read; a stale `If-Match` is refused), a pending
//! request nobody asks for again expires and the next refusal opens a fresh
//! one, an idle connection's owners are warned once and then it is suspended
//! (refused at the gate until an approver resumes it), while a connection in
//! use is left alone. Every action is audited by `system:<policy>`.

use admin_api::{client::Mutation, *};
use gatehouse_tests::*;
use serde_json::json;

const DAY: i64 = 86_400;

fn put_body(v: serde_json::Value) -> LifecyclePolicies {
    serde_json::from_value(v).unwrap()
}

async fn put(
    admin: &AdminClient,
    version: &str,
    p: &LifecyclePolicies,
) -> Result<PoliciesView, admin_api::ClientError> {
    admin
        .set_policies(
            p,
            &Mutation {
                if_match: Some(version),
                ..Default::default()
            },
        )
        .await
}

async fn run(admin: &AdminClient) -> PolicyRunReport {
    admin.run_policies().await.unwrap()
}

async fn audit_count(admin: &AdminClient, kind: &str) -> usize {
    admin
        .audit(&query(&[("kind", kind.into()), ("limit", "500".into())]))
        .await
        .unwrap()
        .items
        .len()
}

#[tokio::test]
async fn idle_connections_are_warned_then_suspended_and_stale_requests_expire() {
    let d = start_demo().await;
    let i = &d.info;
    let judy = admin_session(i, "judy", true).await;
    let oscar = admin_session(i, "oscar", true).await;

    // Off until an admin sets them; only an admin may, at the current version.
    let now = judy.policies().await.unwrap();
    assert_eq!(now.etag, "\"v0\"");
    assert_eq!(
        (now.value.version, now.value.policies),
        (0, LifecyclePolicies::default())
    );
    let wanted = put_body(json!({
        "inactivity_days": 30, "inactivity_warning_days": 7, "pending_request_days": 14,
    }));
    let e = put(&oscar, "\"v0\"", &wanted).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "an approver sets no policy");
    let e = put(&judy, "\"v3\"", &wanted).await.unwrap_err();
    assert_eq!(e.status(), Some(412), "a stale version");
    let e = put(
        &judy,
        "\"v0\"",
        &put_body(json!({"inactivity_days": 5, "inactivity_warning_days": 7})),
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(422), "a warning before the last use");
    let set = put(&judy, "\"v0\"", &wanted).await.unwrap();
    assert_eq!((set.version, set.policies.clone()), (1, wanted.clone()));
    assert_eq!(audit_count(&judy, "policy.updated").await, 1);

    // Nothing is due yet.
    assert_eq!(run(&judy).await, PolicyRunReport::default());
    let pending = judy
        .list_requests(&query(&[("status", "pending".into())]))
        .await
        .unwrap()
        .items;
    let active = judy
        .list_connections(&query(&[("status", "active".into())]))
        .await
        .unwrap()
        .items;
    assert!(!pending.is_empty() && active.len() >= 2);

    // 24 days on: every pending request expires; every idle connection's owners are warned, once.
    d.idp.advance_clock(24 * DAY);
    // (Sessions from before the jump have expired; a TOTP code from the
    // machine's clock would not match the IdP's, so these sign in without.)
    let judy = admin_session(i, "judy", false).await;
    let r = run(&judy).await;
    assert_eq!(r.requests_expired as usize, pending.len());
    assert_eq!(r.inactivity_warnings as usize, active.len());
    assert_eq!(r.connections_suspended, 0);
    assert_eq!(run(&judy).await, PolicyRunReport::default(), "warned once");
    let warnings = judy
        .audit(&query(&[("kind", "connection.inactivity_warning".into())]))
        .await
        .unwrap()
        .items;
    assert!(
        warnings
            .iter()
            .all(|e| e.actor.as_deref() == Some("system:inactivity"))
    );
    let old = &pending[0];
    let expired = judy.get_request(&old.id).await.unwrap().value;
    assert_eq!(expired.status, RequestStatus::Expired);

    // alice uses code-agent → docs; the refused pair of a stale request asks afresh.
    let alice = sign_in(i, "alice", "code-agent", false).await;
    exchange(i, "code-agent", &alice.id_token, "docs", Some("docs.read"))
        .await
        .expect("a connection in use works");
    let frank = sign_in(i, "frank", "code-agent", false).await;
    let refused = exchange(
        i,
        "code-agent",
        &frank.id_token,
        "tickets",
        Some("tickets.read"),
    )
    .await;
    let fresh = expect_oauth(refused, xaa::ErrorCode::AccessDenied)
        .connection_request_id
        .unwrap();
    let stale_one = pending
        .iter()
        .find(|p| p.client.client_id == "code-agent" && p.resource_app.id == "tickets")
        .unwrap();
    assert_ne!(fresh, stale_one.id, "a fresh request, not the expired one");

    // 31 days after the start: the idle ones are suspended, the used one is not.
    d.idp.advance_clock(7 * DAY);
    let judy = admin_session(i, "judy", false).await;
    let oscar = admin_session(i, "oscar", false).await;
    let r = run(&judy).await;
    assert_eq!(r.connections_suspended as usize, active.len() - 1);
    let used = active
        .iter()
        .find(|c| c.client.client_id == "code-agent" && c.resource_app.id == "docs")
        .unwrap();
    let after = judy.get_connection(&used.id).await.unwrap().value;
    assert_eq!(after.status, ConnectionStatus::Active);
    let idle = active
        .iter()
        .find(|c| c.client.client_id == "research-assistant" && c.resource_app.id == "docs")
        .unwrap();
    let suspended = judy.get_connection(&idle.id).await.unwrap();
    assert_eq!(suspended.value.status, ConnectionStatus::Suspended);
    let events = judy
        .audit(&query(&[
            ("kind", "connection.suspend".into()),
            ("target", idle.id.clone()),
        ]))
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_deref(), Some("system:inactivity"));

    // Suspended means refused at the gate, until an approver resumes it.
    let alice = sign_in(i, "alice", "research-assistant", false).await;
    let try_docs = || {
        exchange(
            i,
            "research-assistant",
            &alice.id_token,
            "docs",
            Some("docs.read"),
        )
    };
    expect_oauth(try_docs().await, xaa::ErrorCode::AccessDenied);
    let m = Mutation {
        if_match: Some(&suspended.etag),
        ..Default::default()
    };
    let helpdesk = admin_session(i, "dave", false).await;
    let e = helpdesk
        .connection_action(&idle.id, ConnectionAction::Resume, "back", &m)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "the help desk does not resume");
    let resumed = oscar
        .connection_action(&idle.id, ConnectionAction::Resume, "still needed", &m)
        .await
        .unwrap();
    assert_eq!(resumed.status, ConnectionStatus::Active);
    try_docs().await.expect("resumed: honoured again");
    assert!(judy.audit_verify().await.unwrap().ok);
}
