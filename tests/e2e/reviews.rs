//! Access reviews over the admin API on loopback: a campaign's lifecycle with
//! usage-based recommendations, assignment away from the reviewer's own access,
//! reasons required against a recommendation, bulk decisions, reassignment with a
//! note (and its refusal to a conflicted reviewer), a revoke decision the agent
//! then feels, the default action at the due date (the IdP's clock moved), and
//! the report as CSV and as a PDF that is opened and checked.

use admin_api::{
    CampaignStatus, ClientError, CreateCampaign, Reassign, ReviewDecision, ReviewDecisions,
    ReviewDefault, codes,
};
use gatehouse_tests::*;
use std::time::Duration;

fn code(e: ClientError) -> String {
    e.code().unwrap_or("none").to_string()
}

#[tokio::test]
async fn a_campaign_from_start_to_default_action_and_report() {
    let d = start_demo().await;
    let i = &d.info;
    // grace's support copilot is in use; the other seeded connections are not.
    let grace = sign_in(i, "grace", "support-copilot", false).await;
    exchange(i, "support-copilot", &grace.id_token, "tickets", None)
        .await
        .unwrap();

    let judy = admin_session(i, "judy", true).await;
    let ivan = admin_session(i, "ivan", false).await;
    let now = d.idp.now();
    let campaign = judy
        .create_campaign(&CreateCampaign {
            name: "Q4 AI app access".into(),
            scope: Default::default(),
            reviewers: vec!["grace".into(), "ivan".into()],
            fallback_reviewer: "ivan".into(),
            starts_at: None,
            due_at: now + 7 * 86_400,
            default_action: ReviewDefault::Revoke,
            per_user: false,
            kind: admin_api::CampaignKind::Access,
        })
        .await
        .unwrap();
    assert_eq!(campaign.status, CampaignStatus::Active);
    assert_eq!(campaign.items, 4);
    let items = judy
        .review_items(
            &campaign.id,
            &gatehouse_tests::query(&[("limit", "500".into())]),
        )
        .await
        .unwrap()
        .items;
    // Nobody reviews a client they own: grace owns support-copilot.
    let copilot = items
        .iter()
        .find(|x| x.client.client_id == "support-copilot")
        .unwrap();
    assert_eq!(copilot.reviewer, "ivan");
    assert_eq!(copilot.recommendation, ReviewDecision::Keep);
    assert_eq!(copilot.exchanges_30d, 1);
    for x in items
        .iter()
        .filter(|x| x.client.client_id != "support-copilot")
    {
        assert_eq!(x.recommendation, ReviewDecision::Revoke, "{x:?}");
        assert!(x.recommendation_reason.contains("never used"), "{x:?}");
    }

    // Reassigning to someone who owns the client is refused; with a note to judy it goes.
    let e = ivan
        .reassign_item(
            &campaign.id,
            &copilot.id,
            &Reassign {
                to: "grace".into(),
                note: "she knows it".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), codes::SEPARATION_OF_DUTIES);
    let e = ivan
        .reassign_item(
            &campaign.id,
            &copilot.id,
            &Reassign {
                to: "judy".into(),
                note: " ".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), codes::VALIDATION);
    let moved = ivan
        .reassign_item(
            &campaign.id,
            &copilot.id,
            &Reassign {
                to: "judy".into(),
                note: "owner of the ticketing rollout".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.reviewer, "judy");
    // ivan no longer decides it.
    let e = ivan
        .decide_items(
            &campaign.id,
            &ReviewDecisions {
                items: vec![copilot.id.clone()],
                decision: ReviewDecision::Keep,
                scopes: None,
                reason: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), codes::FORBIDDEN);

    // Against the recommendation (keep) a revoke needs a reason; then it revokes for real.
    let e = judy
        .decide_items(
            &campaign.id,
            &ReviewDecisions {
                items: vec![copilot.id.clone()],
                decision: ReviewDecision::Revoke,
                scopes: None,
                reason: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), codes::VALIDATION);
    let decided = judy
        .decide_items(
            &campaign.id,
            &ReviewDecisions {
                items: vec![copilot.id.clone()],
                decision: ReviewDecision::Revoke,
                scopes: None,
                reason: Some("ticketing moves to the new copilot".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(decided[0].remediation.as_deref(), Some("revoked"));
    expect_oauth(
        exchange(i, "support-copilot", &grace.id_token, "tickets", None).await,
        xaa::ErrorCode::AccessDenied,
    );
    let conn = judy
        .get_connection(&copilot.connection_id)
        .await
        .unwrap()
        .value;
    assert_eq!(conn.status, admin_api::ConnectionStatus::Revoked);
    assert!(
        !conn.receipts.is_empty(),
        "the revocation went to the app's receiver"
    );

    // grace's items (she has no reviewer role) go to ivan; he keeps one in bulk with
    // a reason (against "revoke") and narrows... the other stays open for the deadline.
    let grace_items: Vec<_> = items
        .iter()
        .filter(|x| x.reviewer == "grace")
        .map(|x| x.id.clone())
        .collect();
    for id in &grace_items {
        judy.reassign_item(
            &campaign.id,
            id,
            &Reassign {
                to: "ivan".into(),
                note: "grace is not a reviewer".into(),
            },
        )
        .await
        .unwrap();
    }
    let open: Vec<_> = ivan
        .review_items(
            &campaign.id,
            &gatehouse_tests::query(&[
                ("limit", "500".into()),
                ("reviewer", "ivan".into()),
                ("state", "open".into()),
            ]),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(open.len(), 3);
    let keep: Vec<String> = open[..2].iter().map(|x| x.id.clone()).collect();
    let e = ivan
        .decide_items(
            &campaign.id,
            &ReviewDecisions {
                items: keep.clone(),
                decision: ReviewDecision::Keep,
                scopes: None,
                reason: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        code(e),
        codes::VALIDATION,
        "keeping against a revoke recommendation needs a reason"
    );
    let kept = ivan
        .decide_items(
            &campaign.id,
            &ReviewDecisions {
                items: keep,
                decision: ReviewDecision::Keep,
                scopes: None,
                reason: Some("quarter-end work".into()),
            },
        )
        .await
        .unwrap();
    assert!(
        kept.iter()
            .all(|x| x.remediation.as_deref() == Some("kept"))
    );
    let progress = judy.campaign(&campaign.id).await.unwrap().progress;
    let ivans = progress.iter().find(|p| p.reviewer == "ivan").unwrap();
    assert_eq!((ivans.items, ivans.decided), (3, 2));

    // The due date passes: the last item gets the default action (revoke).
    let last = open[2].clone();
    d.idp.advance_clock(8 * 86_400);
    // Eight days on, the old access tokens have expired: sign in again (without
    // TOTP: the agent's authenticator runs on the real clock, the IdP's is moved).
    let judy = admin_session(i, "judy", false).await;
    let ivan = admin_session(i, "ivan", false).await;
    let mut done = None;
    for _ in 0..50 {
        let c = judy.campaign(&campaign.id).await.unwrap();
        if c.status == CampaignStatus::Completed {
            done = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = done.expect("completed at the due date");
    assert_eq!(done.decided, 4);
    let last = judy
        .review_items(
            &campaign.id,
            &gatehouse_tests::query(&[("limit", "500".into()), ("state", "decided".into())]),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|x| x.id == last.id)
        .unwrap();
    assert!(last.defaulted);
    assert_eq!(last.decided_by.as_deref(), Some("system:review-deadline"));
    assert_eq!(last.remediation.as_deref(), Some("revoked"));
    let e = ivan
        .decide_items(
            &campaign.id,
            &ReviewDecisions {
                items: vec![last.id.clone()],
                decision: ReviewDecision::Keep,
                scopes: None,
                reason: Some("late".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), codes::CONFLICT);

    // The report: CSV rows per item with who/why/what, and a PDF that opens.
    let csv = String::from_utf8(
        judy.review_report(&campaign.id, admin_api::ReportFormat::Csv)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.contains("ticketing moves to the new copilot"));
    assert!(csv.contains("system:review-deadline"));
    let pdf = judy
        .review_report(&campaign.id, admin_api::ReportFormat::Pdf)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.starts_with("%PDF-1.4") && text.trim_end().ends_with("%%EOF"));
    assert!(text.contains("Access review: Q4 AI app access"));
    for x in &items {
        assert!(
            text.contains(&x.client.name),
            "{} missing from the PDF",
            x.client.name
        );
    }
    // Every decision is in the audit chain, which still verifies.
    assert!(judy.audit_verify().await.unwrap().ok);
}

#[tokio::test]
async fn only_admins_start_campaigns_and_bad_campaigns_are_refused() {
    let d = start_demo().await;
    let i = &d.info;
    let ivan = admin_session(i, "ivan", false).await;
    let judy = admin_session(i, "judy", true).await;
    let body = CreateCampaign {
        name: "x".into(),
        scope: Default::default(),
        reviewers: vec![],
        fallback_reviewer: "ivan".into(),
        starts_at: None,
        due_at: d.idp.now() + 3600,
        default_action: ReviewDefault::Recommendation,
        per_user: false,
        kind: admin_api::CampaignKind::Access,
    };
    assert_eq!(
        code(ivan.create_campaign(&body).await.unwrap_err()),
        codes::FORBIDDEN
    );
    let mut past = body.clone();
    past.due_at = d.idp.now() - 1;
    assert_eq!(
        code(judy.create_campaign(&past).await.unwrap_err()),
        codes::VALIDATION
    );
    let mut nobody = body.clone();
    nobody.fallback_reviewer = "mallory".into();
    assert_eq!(
        code(judy.create_campaign(&nobody).await.unwrap_err()),
        codes::VALIDATION
    );
    let mut empty = body.clone();
    empty.scope.client_id = Some("no-such-client".into());
    assert_eq!(
        code(judy.create_campaign(&empty).await.unwrap_err()),
        codes::VALIDATION
    );
    // App owners review by default, never their own clients.
    let c = judy.create_campaign(&body).await.unwrap();
    for x in judy
        .review_items(&c.id, &gatehouse_tests::query(&[("limit", "500".into())]))
        .await
        .unwrap()
        .items
    {
        let owners = &d.idp.config.client(&x.client.client_id).unwrap().owners;
        assert!(!owners.contains(&x.reviewer), "{x:?}");
    }
}

#[tokio::test]
async fn a_per_user_review_removes_one_user_and_leaves_the_others() {
    let d = start_demo().await;
    let i = &d.info;
    let grace = sign_in(i, "grace", "support-copilot", false).await;
    let alice = sign_in(i, "alice", "support-copilot", false).await;
    for s in [&grace, &grace, &alice] {
        exchange(i, "support-copilot", &s.id_token, "tickets", None)
            .await
            .unwrap();
    }
    let judy = admin_session(i, "judy", true).await;
    let ivan = admin_session(i, "ivan", false).await;
    let scope = admin_api::ConnectionQuery {
        client_id: Some("support-copilot".into()),
        ..Default::default()
    };
    let c = judy
        .create_campaign(&CreateCampaign {
            name: "Copilot users".into(),
            scope,
            // alice would be first in turn for her own item: she is skipped.
            reviewers: vec!["alice".into(), "ivan".into()],
            fallback_reviewer: "ivan".into(),
            starts_at: None,
            due_at: d.idp.now() + 86_400,
            default_action: ReviewDefault::Keep,
            per_user: true,
            kind: admin_api::CampaignKind::Access,
        })
        .await
        .unwrap();
    assert!(c.per_user);
    let items = judy
        .review_items(&c.id, &gatehouse_tests::query(&[("limit", "500".into())]))
        .await
        .unwrap()
        .items;
    let users: Vec<_> = items.iter().map(|x| x.username.clone().unwrap()).collect();
    assert_eq!(users, vec!["alice", "grace"]);
    let alice_item = &items[0];
    let grace_item = &items[1];
    assert_ne!(
        alice_item.reviewer, "alice",
        "nobody reviews their own access"
    );
    assert_eq!((grace_item.exchanges_30d, alice_item.exchanges_30d), (2, 1));
    assert_eq!(grace_item.recommendation, ReviewDecision::Keep);

    // Narrowing would change the connection for everyone: refused on a user's item.
    let e = judy
        .decide_items(
            &c.id,
            &ReviewDecisions {
                items: vec![grace_item.id.clone()],
                decision: ReviewDecision::Modify,
                scopes: Some(vec!["tickets.read".into()]),
                reason: Some("x".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), codes::VALIDATION);
    let reviewer = admin_session(i, &grace_item.reviewer, grace_item.reviewer == "judy").await;
    let done = reviewer
        .decide_items(
            &c.id,
            &ReviewDecisions {
                items: vec![grace_item.id.clone()],
                decision: ReviewDecision::Revoke,
                scopes: None,
                reason: Some("moved to another team".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(done[0].remediation.as_deref(), Some("removed grace"));
    let refused = expect_oauth(
        exchange(i, "support-copilot", &grace.id_token, "tickets", None).await,
        xaa::ErrorCode::AccessDenied,
    );
    assert!(refused.to_string().contains("access review"), "{refused}");
    exchange(i, "support-copilot", &alice.id_token, "tickets", None)
        .await
        .expect("alice keeps her access");
    let conn = ivan
        .get_connection(&grace_item.connection_id)
        .await
        .unwrap()
        .value;
    assert_eq!(conn.status, admin_api::ConnectionStatus::Active);
    assert_eq!(conn.excluded_users, vec!["grace".to_string()]);
    assert!(
        !conn.receipts.is_empty(),
        "a revocation event went out for grace"
    );
    let csv = String::from_utf8(
        judy.review_report(&c.id, admin_api::ReportFormat::Csv)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(csv.contains("\"grace\"") && csv.contains("removed grace"));
}

#[tokio::test]
async fn an_agent_campaign_puts_every_connection_of_one_client_before_its_owners() {
    use admin_api::{ApproveRequest, CampaignKind, client::Mutation};
    let d = start_demo().await;
    let i = &d.info;
    let judy = admin_session(i, "judy", true).await;
    let carol = admin_session(i, "carol", true).await;
    let oscar = admin_session(i, "oscar", false).await;
    // support-copilot (owners grace and oscar) gets a second connection: the CRM, read only.
    let request = judy
        .list_requests(&query(&[("status", "pending".into())]))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.client.client_id == "support-copilot" && r.resource_app.id == "crm")
        .unwrap();
    carol
        .approve(
            &request.id,
            &ApproveRequest {
                scopes: Some(vec!["crm.contacts.read".into()]),
                ..Default::default()
            },
            &Mutation {
                if_match: Some(&format!("\"v{}\"", request.version)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let body = |reviewers: Vec<String>, client: Option<&str>| CreateCampaign {
        name: "Support Copilot certification".into(),
        scope: admin_api::ConnectionQuery {
            client_id: client.map(str::to_owned),
            ..Default::default()
        },
        reviewers,
        fallback_reviewer: "ivan".into(),
        starts_at: None,
        due_at: d.idp.now() + 14 * 86_400,
        default_action: ReviewDefault::Keep,
        per_user: false,
        kind: CampaignKind::Agent,
    };
    let e = judy.create_campaign(&body(vec![], None)).await.unwrap_err();
    assert_eq!(e.status(), Some(422), "an agent campaign names its client");
    let e = judy
        .create_campaign(&body(vec!["ivan".into()], Some("support-copilot")))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422), "its owners review it, nobody named");

    let c = judy
        .create_campaign(&body(vec![], Some("support-copilot")))
        .await
        .unwrap();
    assert_eq!((c.kind, c.items), (CampaignKind::Agent, 2));
    let items = judy
        .review_items(&c.id, &query(&[("limit", "500".into())]))
        .await
        .unwrap()
        .items;
    assert!(
        items
            .iter()
            .all(|x| x.client.client_id == "support-copilot")
    );
    let reviewers: std::collections::BTreeSet<_> =
        items.iter().map(|x| x.reviewer.as_str()).collect();
    assert_eq!(
        reviewers,
        ["grace", "oscar"].into_iter().collect(),
        "the owners, in turn"
    );
    let mine = items.iter().find(|x| x.reviewer == "oscar").unwrap();
    let keep = ReviewDecisions {
        items: vec![mine.id.clone()],
        decision: ReviewDecision::Keep,
        scopes: None,
        reason: Some("the copilot drafts replies from these tickets".into()),
    };
    // carol neither owns it nor is assigned; oscar, an owner, certifies it
    // (in an access campaign he could not review his own client).
    let e = carol.decide_items(&c.id, &keep).await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    let decided = oscar.decide_items(&c.id, &keep).await.unwrap();
    assert_eq!(decided[0].decision, Some(ReviewDecision::Keep));
    assert_eq!(decided[0].decided_by.as_deref(), Some("oscar"));
}
