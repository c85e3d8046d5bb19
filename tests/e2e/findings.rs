//! Least-privilege findings over loopback: a sensitive scope granted without
//! step-up is found and its one-click remedy (a connection change through the
//! same If-Match path) clears it; after 30 days, scopes granted but never asked
//! for are found with their evidence; a snooze hides a finding until the
//! evidence changes, an acknowledgement likewise; bad state changes are refused.

use admin_api::{client::Mutation, *};
use gatehouse_tests::*;

const DAY: i64 = 86_400;

fn at(etag: &str) -> Mutation<'_> {
    Mutation {
        if_match: Some(etag),
        ..Default::default()
    }
}

fn of(all: &[FindingView], kind: FindingKind, client: &str) -> Option<FindingView> {
    all.iter()
        .find(|f| f.kind == kind && f.client.client_id == client)
        .cloned()
}

async fn remedy(admin: &AdminClient, f: &FindingView) -> ConnectionView {
    admin
        .modify_connection(
            &f.connection_id,
            f.remediation.as_ref().expect("a remediation"),
            &at(&format!("\"v{}\"", f.connection_version)),
        )
        .await
        .unwrap()
}

fn state(state: FindingState, until: Option<i64>, reason: &str) -> FindingStateBody {
    FindingStateBody {
        state,
        until,
        reason: reason.into(),
    }
}

#[tokio::test]
async fn findings_carry_evidence_and_a_remedy_and_come_back_when_the_evidence_changes() {
    let d = start_demo().await;
    let i = &d.info;
    let judy = admin_session(i, "judy", true).await;
    let carol = admin_session(i, "carol", true).await;
    let none = judy.findings(true).await.unwrap();
    assert!(
        of(
            &none,
            FindingKind::SensitiveWithoutStepUp,
            "support-copilot"
        )
        .is_none(),
        "{none:?}"
    );

    // support-copilot gets crm.export (sensitive) with no step-up rule: two approvals.
    let r = judy
        .list_requests(&query(&[("status", "pending".into())]))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.client.client_id == "support-copilot" && r.resource_app.id == "crm")
        .unwrap();
    let first = carol
        .approve(
            &r.id,
            &ApproveRequest::default(),
            &at(&format!("\"v{}\"", r.version)),
        )
        .await
        .unwrap();
    judy.approve(
        &r.id,
        &ApproveRequest::default(),
        &at(&format!("\"v{}\"", first.request.version)),
    )
    .await
    .unwrap();
    let found = judy.findings(false).await.unwrap();
    let bare = of(
        &found,
        FindingKind::SensitiveWithoutStepUp,
        "support-copilot",
    )
    .unwrap();
    assert_eq!(bare.severity, Severity::High);
    assert_eq!(bare.evidence["scopes"], serde_json::json!(["crm.export"]));
    let fixed = remedy(&carol, &bare).await;
    assert!(
        fixed
            .step_up
            .iter()
            .any(|s| s.scope == "crm.export" && s.acr.as_deref() == Some(xaa::ACR_MFA))
    );
    assert!(
        of(
            &judy.findings(true).await.unwrap(),
            FindingKind::SensitiveWithoutStepUp,
            "support-copilot"
        )
        .is_none(),
        "remedied"
    );

    // A month on, bob's notetaker asks only for contacts: the deals scopes are unused.
    d.idp.advance_clock(31 * DAY);
    let judy = admin_session(i, "judy", false).await;
    let carol = admin_session(i, "carol", false).await;
    let dave = admin_session(i, "dave", false).await;
    let bob = sign_in(i, "bob", "sales-notetaker", false).await;
    let use_scope = |scope: &'static str| {
        let (i, token) = (i, bob.id_token.clone());
        async move {
            exchange(i, "sales-notetaker", &token, "crm", Some(scope))
                .await
                .expect("granted");
        }
    };
    use_scope("crm.contacts.read").await;
    let found = judy.findings(false).await.unwrap();
    let unused = of(&found, FindingKind::UnusedScopes, "sales-notetaker").unwrap();
    assert_eq!(unused.severity, Severity::Medium);
    assert_eq!(
        unused.evidence["unused"],
        serde_json::json!(["crm.deals.read", "crm.deals.write"])
    );
    assert_eq!(unused.evidence["used"]["crm.contacts.read"]["count"], 1);
    assert!(
        of(&found, FindingKind::UnusedScopes, "support-copilot").is_none(),
        "an idle connection is the inactivity policy's, not an unused-scopes finding"
    );

    // Bad state changes.
    for (who, body, status) in [
        (&carol, state(FindingState::Snoozed, None, "later"), 422),
        (
            &carol,
            state(FindingState::Acknowledged, Some(d.idp.now() + DAY), "ok"),
            422,
        ),
        (&carol, state(FindingState::Acknowledged, None, " "), 422),
        (&dave, state(FindingState::Acknowledged, None, "ok"), 403),
    ] {
        let e = who.set_finding_state(&unused.id, &body).await.unwrap_err();
        assert_eq!(e.status(), Some(status), "{body:?}");
    }
    let e = carol
        .set_finding_state("fnd_nope", &state(FindingState::Acknowledged, None, "ok"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));

    // Snoozed: gone from the open list, shown with its date among all.
    let until = d.idp.now() + 7 * DAY;
    let s = carol
        .set_finding_state(
            &unused.id,
            &state(FindingState::Snoozed, Some(until), "quarter-end deals sync"),
        )
        .await
        .unwrap();
    assert_eq!(
        (s.state, s.snoozed_until),
        (FindingState::Snoozed, Some(until))
    );
    assert!(
        of(
            &judy.findings(false).await.unwrap(),
            FindingKind::UnusedScopes,
            "sales-notetaker"
        )
        .is_none()
    );
    // The same evidence again (another contacts read): still snoozed.
    use_scope("crm.contacts.read").await;
    let all = judy.findings(true).await.unwrap();
    let still = of(&all, FindingKind::UnusedScopes, "sales-notetaker").unwrap();
    assert_eq!(still.state, FindingState::Snoozed);
    assert_eq!(still.evidence["used"]["crm.contacts.read"]["count"], 2);
    // The evidence changes (deals read is used now): open again, about deals.write only.
    use_scope("crm.deals.read").await;
    let back = of(
        &judy.findings(false).await.unwrap(),
        FindingKind::UnusedScopes,
        "sales-notetaker",
    )
    .unwrap();
    assert_eq!(back.id, unused.id, "the same finding");
    assert_eq!(back.state, FindingState::Open);
    assert_eq!(
        back.evidence["unused"],
        serde_json::json!(["crm.deals.write"])
    );
    // Acknowledged with a reason: hidden while the evidence holds.
    carol
        .set_finding_state(
            &back.id,
            &state(
                FindingState::Acknowledged,
                None,
                "deals write is for the Q1 migration",
            ),
        )
        .await
        .unwrap();
    assert!(
        of(
            &judy.findings(false).await.unwrap(),
            FindingKind::UnusedScopes,
            "sales-notetaker"
        )
        .is_none()
    );
    let audited = judy
        .audit(&query(&[("kind", "finding.state".into())]))
        .await
        .unwrap()
        .items;
    assert_eq!(audited.len(), 2);

    // One click narrows it to what is used: no finding left for it.
    let all = judy.findings(true).await.unwrap();
    let acked = of(&all, FindingKind::UnusedScopes, "sales-notetaker").unwrap();
    let narrowed = remedy(&carol, &acked).await;
    let kept: Vec<&str> = narrowed
        .granted_scopes
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(kept, ["crm.contacts.read", "crm.deals.read"]);
    assert!(
        of(
            &judy.findings(true).await.unwrap(),
            FindingKind::UnusedScopes,
            "sales-notetaker"
        )
        .is_none()
    );
}
