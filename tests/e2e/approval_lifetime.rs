//! Approvals over their lifetime, over loopback on the demo IdP's clock: an
//! approval without an expiry gets the policy's default for its highest risk;
//! before it expires the client's owners are asked (once) whether it is still
//! needed and answer (only an owner may); an approver who is no owner renews it
//! or decides not to, and an unrenewed approval lapses (status `expired`,
//! refused at the gate, revocation events queued). A decided request whose
//! scopes the app has made riskier since shows what changed.

use admin_api::{client::Mutation, *};
use gatehouse_tests::*;
use serde_json::json;

const DAY: i64 = 86_400;

fn at(etag: &str) -> Mutation<'_> {
    Mutation {
        if_match: Some(etag),
        ..Default::default()
    }
}

fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

async fn pending(admin: &AdminClient, client: &str, app: &str) -> RequestView {
    admin
        .list_requests(&query(&[("status", "pending".into())]))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.client.client_id == client && r.resource_app.id == app)
        .unwrap()
}

async fn connection(admin: &AdminClient, client: &str, app: &str) -> ConnectionView {
    let id = admin
        .list_connections(&query(&[
            ("client_id", client.into()),
            ("resource_app", app.into()),
            ("status", "all".into()),
        ]))
        .await
        .unwrap()
        .items
        .into_iter()
        .max_by_key(|c| c.created_at)
        .unwrap()
        .id;
    admin.get_connection(&id).await.unwrap().value
}

#[tokio::test]
async fn approvals_get_their_risks_lifetime_owners_attest_approvers_renew_or_they_lapse() {
    let d = start_demo().await;
    let i = &d.info;
    let judy = admin_session(i, "judy", true).await;
    let oscar = admin_session(i, "oscar", true).await;
    let carol = admin_session(i, "carol", true).await;

    let policies: LifecyclePolicies = serde_json::from_value(json!({
        "approval_days": {"read": 30, "write": 60}, "attestation_days": 14,
    }))
    .unwrap();
    let bad: LifecyclePolicies =
        serde_json::from_value(json!({"approval_days": {"write": 0}})).unwrap();
    let e = judy.set_policies(&bad, &at("\"v0\"")).await.unwrap_err();
    assert_eq!(e.status(), Some(422), "a zero-day lifetime");
    judy.set_policies(&policies, &at("\"v0\"")).await.unwrap();
    let start = judy.policies().await.unwrap().value.now;

    // No expiry given: the write-risk default (60 days). An explicit one is kept.
    let code = pending(&judy, "code-agent", "tickets").await;
    let decided = oscar
        .approve(
            &code.id,
            &ApproveRequest::default(),
            &at(&etag(code.version)),
        )
        .await
        .unwrap();
    let code_conn = decided.connection.unwrap();
    let lifetime = code_conn.expires_at.unwrap() - start;
    assert!(
        (60 * DAY..60 * DAY + 60).contains(&lifetime),
        "{lifetime} s"
    );
    let research = pending(&judy, "research-assistant", "crm").await;
    let explicit = start + 10 * DAY;
    let research_conn = carol
        .approve(
            &research.id,
            &ApproveRequest {
                expires_at: Some(explicit),
                ..Default::default()
            },
            &at(&etag(research.version)),
        )
        .await
        .unwrap()
        .connection
        .unwrap();
    assert_eq!(research_conn.expires_at, Some(explicit));
    // support-copilot (owned by grace and oscar) → tickets, made time-bound.
    let support = connection(&judy, "support-copilot", "tickets").await;
    let support = carol
        .modify_connection(
            &support.id,
            &ModifyConnection {
                expires_at: Some(start + 20 * DAY),
                reason: "quarterly".into(),
                ..Default::default()
            },
            &at(&etag(support.version)),
        )
        .await
        .unwrap();

    // A week on: the two approvals expiring within 14 days are asked about, once.
    d.idp.advance_clock(7 * DAY);
    let judy = admin_session(i, "judy", false).await;
    let oscar = admin_session(i, "oscar", false).await;
    let carol = admin_session(i, "carol", false).await;
    let r = judy.run_policies().await.unwrap();
    assert_eq!(
        (r.attestations_requested, r.approvals_lapsed),
        (2, 0),
        "{r:?}"
    );
    assert_eq!(judy.run_policies().await.unwrap().attestations_requested, 0);
    let asked = judy
        .audit(&query(&[(
            "kind",
            "connection.attestation_requested".into(),
        )]))
        .await
        .unwrap()
        .items;
    assert_eq!(asked.len(), 2);
    assert!(
        asked
            .iter()
            .all(|e| e.actor.as_deref() == Some("system:approval-lifetime"))
    );
    let support = judy.get_connection(&support.id).await.unwrap().value;
    let asked_of = support.attestation.clone().unwrap();
    assert_eq!(
        (asked_of.expires_at, asked_of.still_needed),
        (start + 20 * DAY, None)
    );
    assert!(
        judy.get_connection(&code_conn.id)
            .await
            .unwrap()
            .value
            .attestation
            .is_none(),
        "53 days left: not asked yet"
    );

    // Only an owner attests, at the current version.
    let answer = AttestBody {
        still_needed: true,
        reason: "the support team drafts replies with it daily".into(),
    };
    let e = carol
        .attest(&support.id, &answer, &at(&etag(support.version)))
        .await
        .unwrap_err();
    assert_eq!(
        e.status(),
        Some(403),
        "carol owns no part of support-copilot"
    );
    let e = oscar
        .attest(&support.id, &answer, &at(&etag(support.version - 1)))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(412));
    let support = oscar
        .attest(&support.id, &answer, &at(&etag(support.version)))
        .await
        .unwrap();
    let a = support.attestation.clone().unwrap();
    assert_eq!(
        (a.attested_by.as_deref(), a.still_needed),
        (Some("oscar"), Some(true))
    );

    // An owner may not renew; another approver does. Destructive scopes have
    // no default lifetime, so the renewal names its expiry.
    let renew = |decision, expires_at| RenewBody {
        decision,
        expires_at,
        reason: "still needed, attested by its owner".into(),
    };
    let e = oscar
        .renew(
            &support.id,
            &renew(RenewalDecision::Renewed, None),
            &at(&etag(support.version)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "oscar owns support-copilot");
    let e = carol
        .renew(
            &support.id,
            &renew(RenewalDecision::Renewed, None),
            &at(&etag(support.version)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.status(),
        Some(422),
        "no default for destructive approvals"
    );
    let until = start + 97 * DAY;
    let renewed = carol
        .renew(
            &support.id,
            &renew(RenewalDecision::Renewed, Some(until)),
            &at(&etag(support.version)),
        )
        .await
        .unwrap();
    assert_eq!(renewed.expires_at, Some(until));
    // "Reviewed, don't renew" is a decision too.
    let research_conn = judy.get_connection(&research_conn.id).await.unwrap().value;
    let kept = carol
        .renew(
            &research_conn.id,
            &renew(RenewalDecision::NotRenewed, None),
            &at(&etag(research_conn.version)),
        )
        .await
        .unwrap();
    let a = kept.attestation.unwrap();
    assert_eq!(
        (a.renewal, a.decided_by.as_deref()),
        (Some(RenewalDecision::NotRenewed), Some("carol"))
    );
    assert_eq!(kept.status, ConnectionStatus::Active, "until it expires");

    // Past its expiry the unrenewed approval lapses; the renewed one does not.
    d.idp.advance_clock(4 * DAY);
    let judy = admin_session(i, "judy", false).await;
    let r = judy.run_policies().await.unwrap();
    assert_eq!(r.approvals_lapsed, 1, "{r:?}");
    let lapsed = judy.get_connection(&research_conn.id).await.unwrap().value;
    assert_eq!(lapsed.status, ConnectionStatus::Expired);
    assert!(
        lapsed
            .status_reason
            .as_deref()
            .unwrap()
            .contains("not to renew")
    );
    assert!(!lapsed.receipts.is_empty(), "its receivers are told");
    let events = judy
        .audit(&query(&[("kind", "connection.lapse".into())]))
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_deref(), Some("system:approval-lifetime"));
    assert_eq!(
        judy.get_connection(&support.id).await.unwrap().value.status,
        ConnectionStatus::Active
    );
    let alice = sign_in(i, "alice", "research-assistant", false).await;
    expect_oauth(
        exchange(
            i,
            "research-assistant",
            &alice.id_token,
            "crm",
            Some("crm.contacts.read"),
        )
        .await,
        xaa::ErrorCode::AccessDenied,
    );

    // The app makes a scope the code-agent approval was decided on riskier:
    // that decided request now says it was decided under other rules.
    assert!(
        judy.get_request(&code.id)
            .await
            .unwrap()
            .value
            .rules_changed
            .is_empty()
    );
    let apps: Vec<ResourceAppView> = judy.get_json("/resource-apps", &[]).await.unwrap();
    let tickets = apps.into_iter().find(|a| a.id == "tickets").unwrap();
    let mut scopes = tickets.scopes.clone();
    for s in scopes.iter_mut().filter(|s| s.name == "tickets.comment") {
        s.risk = Risk::Destructive;
    }
    judy.update_resource_app(
        "tickets",
        &UpdateResourceApp {
            scopes: Some(scopes),
            ..Default::default()
        },
        &at(&etag(tickets.version)),
    )
    .await
    .unwrap();
    let changed = judy
        .get_request(&code.id)
        .await
        .unwrap()
        .value
        .rules_changed;
    assert_eq!(
        changed,
        vec![ScopeChange {
            scope: "tickets.comment".into(),
            risk_before: Risk::Write,
            risk_after: Risk::Destructive,
            sensitive_before: false,
            sensitive_after: false,
        }]
    );
}
