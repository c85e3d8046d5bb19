//! The admin API end to end over loopback: the role matrix, decisions with
//! separation of duties, two approvers and step-up, ETags and idempotency,
//! revocation that reaches live tokens, audit export and verification, the change
//! stream, API tokens, and the OpenAPI document.

use admin_api::{client::Mutation, *};
use gatehouse_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

/// One seeded user per role.
const BY_ROLE: [(Role, &str); 5] = [
    (Role::Approver, "oscar"),
    (Role::Helpdesk, "dave"),
    (Role::Reviewer, "ivan"),
    (Role::Auditor, "heidi"),
    (Role::Admin, "judy"),
];

fn body_for(path: &str) -> Option<serde_json::Value> {
    Some(match path {
        p if p.ends_with("/approve") => json!({}),
        p if p.ends_with("/deny") => json!({"reason": "matrix"}),
        "/connections/bulk-revoke" => {
            json!({"client_id": "nobody", "reason": "matrix", "dry_run": true})
        }
        "/api-tokens" => json!({"name": "matrix", "roles": ["auditor"], "expires_in": 60}),
        "/connections/{id}" => json!({"reason": "matrix"}),
        p if p.starts_with("/connections/{id}/") => json!({"reason": "matrix"}),
        _ => return None,
    })
}

#[tokio::test]
async fn every_route_allows_exactly_the_roles_in_the_contract() {
    let d = start_demo().await;
    let i = &d.info;
    let mut sessions = Vec::new();
    for (role, user) in BY_ROLE {
        sessions.push((Some(role), admin_session(i, user, false).await));
    }
    sessions.push((None, admin_session(i, "alice", false).await));
    let anonymous = AdminClient::new(&i.idp, "not-a-token");
    let mut failures = Vec::new();
    for route in admin_api::openapi::routes() {
        let path = route.path.replace("{id}", "does-not-exist");
        let method = Method::from_bytes(route.method.to_uppercase().as_bytes()).unwrap();
        let body = body_for(route.path);
        let status = anonymous
            .raw(method.clone(), &path, body.clone())
            .await
            .unwrap();
        if status != StatusCode::UNAUTHORIZED {
            failures.push(format!(
                "{} {} anonymous → {status}",
                route.method, route.path
            ));
        }
        for (role, client) in &sessions {
            let status = client
                .raw(method.clone(), &path, body.clone())
                .await
                .unwrap();
            let allowed = role.is_some_and(|r| route.roles.contains(&r));
            let forbidden = status == StatusCode::FORBIDDEN;
            if allowed == forbidden || status == StatusCode::UNAUTHORIZED {
                failures.push(format!(
                    "{} {} as {role:?} → {status} (allowed: {allowed})",
                    route.method, route.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn pending_id(admin: &AdminClient, client: &str, app: &str) -> String {
    let page = admin
        .list_requests(&gatehouse_tests::query(&[
            ("client_id", client.into()),
            ("resource_app", app.into()),
        ]))
        .await
        .unwrap();
    page.items.first().expect("a pending request").id.clone()
}

#[tokio::test]
async fn an_approval_narrows_scopes_and_the_agent_then_gets_exactly_those() {
    let d = start_demo().await;
    let i = &d.info;
    let oscar = admin_session(i, "oscar", false).await;
    let id = pending_id(&oscar, "research-assistant", "crm").await;
    let r = oscar.get_request(&id).await.unwrap();
    assert_eq!(r.value.users.len(), 2);
    assert_eq!(r.etag, format!("\"v{}\"", r.value.version));
    let grant = ApproveRequest {
        scopes: Some(vec!["crm.contacts.read".into()]),
        justification: Some("read-only is enough".into()),
        ..Default::default()
    };
    let no_if_match = oscar
        .approve(&id, &grant, &Mutation::default())
        .await
        .unwrap_err();
    assert_eq!(no_if_match.status(), Some(428));
    let widened = ApproveRequest {
        scopes: Some(vec!["crm.delete".into()]),
        ..Default::default()
    };
    let e = oscar
        .approve(
            &id,
            &widened,
            &Mutation {
                if_match: Some(&r.etag),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(codes::VALIDATION));
    let out = oscar
        .approve(
            &id,
            &grant,
            &Mutation {
                if_match: Some(&r.etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.request.status, RequestStatus::Approved);
    let conn = out.connection.expect("a connection");
    assert_eq!(
        conn.scopes,
        ScopeCondition::IncludeOnly(vec!["crm.contacts.read".into()])
    );
    assert_eq!(conn.approved_by, vec!["oscar"]);

    let alice = sign_in(i, "alice", "research-assistant", false).await;
    let jag = exchange(
        i,
        "research-assistant",
        &alice.id_token,
        "crm",
        Some("crm.contacts.read crm.deals.read"),
    )
    .await
    .unwrap();
    assert_eq!(claims(&jag.access_token)["scope"], "crm.contacts.read");
    // The decision is audited with actor, role, before and after.
    let audit = oscar
        .audit(&gatehouse_tests::query(&[(
            "kind",
            "connection_request.approve".into(),
        )]))
        .await
        .unwrap();
    let e = &audit.items[0];
    assert_eq!(e.actor.as_deref(), Some("oscar"));
    assert_eq!(e.detail["role"], "approver");
    assert!(e.detail["request_id"].as_str().unwrap().starts_with("rq_"));
    assert_eq!(e.detail["after"]["scopes"], json!(["crm.contacts.read"]));
    assert_eq!(e.reason.as_deref(), Some("read-only is enough"));
}

#[tokio::test]
async fn separation_of_duties_stops_requesters_and_client_owners() {
    let d = start_demo().await;
    let i = &d.info;
    // oscar owns support-copilot.
    let oscar = admin_session(i, "oscar", false).await;
    let id = pending_id(&oscar, "support-copilot", "crm").await;
    let etag = oscar.get_request(&id).await.unwrap().etag;
    let e = oscar
        .deny(
            &id,
            "no",
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(codes::SEPARATION_OF_DUTIES));
    // judy (admin) triggers a request herself, then may not decide it.
    let judy_user = sign_in(i, "judy", "research-assistant", false).await;
    let refused = exchange(
        i,
        "research-assistant",
        &judy_user.id_token,
        "tickets",
        Some("tickets.read"),
    )
    .await;
    let req_id = expect_oauth(refused, xaa::ErrorCode::AccessDenied)
        .connection_request_id
        .unwrap();
    let judy = admin_session(i, "judy", false).await;
    let etag = judy.get_request(&req_id).await.unwrap().etag;
    let e = judy
        .approve(
            &req_id,
            &ApproveRequest::default(),
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(codes::SEPARATION_OF_DUTIES));
    assert!(e.to_string().contains("triggered"));
}

#[tokio::test]
async fn a_sponsor_may_not_decide_and_owners_changed_at_run_time_are_the_ones_held_to_it() {
    let d = start_demo().await;
    let i = &d.info;
    let judy = admin_session(i, "judy", true).await;
    let clients: Vec<ClientView> = judy.get_json("/clients", &[]).await.unwrap();
    let copilot = clients
        .iter()
        .find(|c| c.client_id == "support-copilot")
        .unwrap();
    assert_eq!(
        (copilot.sponsor.as_deref(), copilot.successors.len()),
        (None, 0)
    );
    // oscar stops owning support-copilot; carol sponsors it, dave succeeds.
    let changed = judy
        .update_client(
            "support-copilot",
            &UpdateClient {
                name: None,
                description: None,
                owners: Some(vec!["grace".into()]),
                sponsor: Some("Carol".into()),
                successors: Some(vec!["dave".into()]),
                redirect_uris: None,
                jwks: None,
                jwks_uri: None,
            },
            &Mutation {
                if_match: Some(&format!("\"v{}\"", copilot.version)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.owners, ["grace"]);
    assert_eq!(
        changed.sponsor.as_deref(),
        Some("carol"),
        "named as the directory names her"
    );
    assert_eq!(changed.successors, ["dave"]);

    // The sponsor is held to separation of duties.
    let carol = admin_session(i, "carol", true).await;
    let id = pending_id(&carol, "support-copilot", "crm").await;
    let etag = carol.get_request(&id).await.unwrap().etag;
    let m = Mutation {
        if_match: Some(&etag),
        ..Default::default()
    };
    let e = carol.deny(&id, "no", &m).await.unwrap_err();
    assert_eq!(e.code(), Some(codes::SEPARATION_OF_DUTIES));
    assert!(e.to_string().contains("sponsor"), "{e}");
    // oscar, no owner any more (though the config file still names him), may.
    let oscar = admin_session(i, "oscar", false).await;
    oscar.deny(&id, "not needed", &m).await.unwrap();

    // A successor who is an owner, or a sponsor nobody knows, is refused.
    let now: Vec<ClientView> = judy.get_json("/clients", &[]).await.unwrap();
    let v = now
        .iter()
        .find(|c| c.client_id == "support-copilot")
        .unwrap()
        .version;
    let tag = format!("\"v{v}\"");
    for (change, why) in [
        (json!({"successors": ["grace"]}), "is an owner"),
        (
            json!({"sponsor": "nobody-here"}),
            "not a person of the directory",
        ),
    ] {
        let body: UpdateClient = serde_json::from_value(change).unwrap();
        let m = Mutation {
            if_match: Some(&tag),
            ..Default::default()
        };
        let e = judy
            .update_client("support-copilot", &body, &m)
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(422), "{e}");
        assert!(e.to_string().contains(why), "{e}");
    }
}

#[tokio::test]
async fn a_sensitive_grant_needs_step_up_and_two_distinct_approvers() {
    let d = start_demo().await;
    let i = &d.info;
    let oscar = admin_session(i, "oscar", false).await;
    let id = pending_id(&oscar, "finance-analyst", "ledger").await;
    let etag = oscar.get_request(&id).await.unwrap().etag;
    let e = oscar
        .approve(
            &id,
            &ApproveRequest::default(),
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    let challenge = e.step_up().expect("an RFC 9470 challenge");
    assert_eq!(challenge.acr_values.as_deref(), Some(xaa::ACR_MFA));
    assert_eq!(challenge.max_age, Some(600));

    // Re-authenticate with TOTP, then approve: the first of two approvals.
    let oscar = admin_session(i, "oscar", true).await;
    let first = oscar
        .approve(
            &id,
            &ApproveRequest::default(),
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.request.status, RequestStatus::AwaitingSecondApproval);
    assert!(first.connection.is_none());
    let etag = oscar.get_request(&id).await.unwrap().etag;
    let again = oscar
        .approve(
            &id,
            &ApproveRequest::default(),
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some(codes::SEPARATION_OF_DUTIES));
    // Nothing is granted yet: the exchange is still refused.
    let erin = sign_in(i, "erin", "finance-analyst", true).await;
    expect_oauth(
        exchange(i, "finance-analyst", &erin.id_token, "ledger", None).await,
        xaa::ErrorCode::AccessDenied,
    );

    let carol = admin_session(i, "carol", true).await;
    let second = carol
        .approve(
            &id,
            &ApproveRequest::default(),
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.request.status, RequestStatus::Approved);
    assert_eq!(
        second.connection.unwrap().approved_by,
        vec!["oscar", "carol"]
    );
    let jag = exchange(
        i,
        "finance-analyst",
        &erin.id_token,
        "ledger",
        Some("payments.create"),
    )
    .await
    .unwrap();
    assert_eq!(claims(&jag.access_token)["scope"], "payments.create");
}

#[tokio::test]
async fn two_concurrent_approvers_with_the_same_etag_exactly_one_wins() {
    let d = start_demo().await;
    let i = &d.info;
    let oscar = admin_session(i, "oscar", false).await;
    let carol = admin_session(i, "carol", false).await;
    let id = pending_id(&oscar, "research-assistant", "crm").await;
    let etag = oscar.get_request(&id).await.unwrap().etag;
    let g1 = ApproveRequest {
        scopes: Some(vec!["crm.contacts.read".into()]),
        ..Default::default()
    };
    let g2 = ApproveRequest {
        scopes: Some(vec!["crm.deals.read".into()]),
        ..Default::default()
    };
    let m = Mutation {
        if_match: Some(&etag),
        ..Default::default()
    };
    let (a, b) = tokio::join!(oscar.approve(&id, &g1, &m), carol.approve(&id, &g2, &m));
    let outcomes = [a.is_ok(), b.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|o| **o).count(),
        1,
        "exactly one wins: {a:?} / {b:?}"
    );
    let loser = match (a, b) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        _ => unreachable!("checked above"),
    };
    assert_eq!(loser.status(), Some(412));
    let current = loser
        .problem()
        .unwrap()
        .current
        .clone()
        .expect("412 carries the current state");
    assert_eq!(current["status"], "approved");
    let conns = oscar
        .list_connections(&gatehouse_tests::query(&[
            ("client_id", "research-assistant".into()),
            ("resource_app", "crm".into()),
        ]))
        .await
        .unwrap();
    assert_eq!(conns.total, 1, "one decision, one connection");
}

#[tokio::test]
async fn a_retried_mutation_with_the_same_idempotency_key_returns_the_first_result() {
    let d = start_demo().await;
    let i = &d.info;
    let carol = admin_session(i, "carol", false).await;
    let id = pending_id(&carol, "code-agent", "tickets").await;
    let etag = carol.get_request(&id).await.unwrap().etag;
    let m = Mutation {
        if_match: Some(&etag),
        idempotency_key: Some("retry-1"),
    };
    let first = carol.deny(&id, "not needed for coding", &m).await.unwrap();
    // The retry carries the now-stale ETag: without idempotency it would be a 412.
    let second = carol.deny(&id, "not needed for coding", &m).await.unwrap();
    assert_eq!(first, second);
    let other = carol.deny(&id, "a different reason", &m).await.unwrap_err();
    assert_eq!(other.code(), Some(codes::IDEMPOTENCY_MISMATCH));
    let denies = carol
        .audit(&gatehouse_tests::query(&[(
            "kind",
            "connection_request.deny".into(),
        )]))
        .await
        .unwrap();
    assert_eq!(denies.total, 1, "the retry did not decide twice");
    let empty = carol
        .deny(
            &id,
            " ",
            &Mutation {
                if_match: Some(&etag),
                idempotency_key: Some("r2"),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Some(codes::VALIDATION));
}

async fn wait_delivered(admin: &AdminClient, conn_id: &str) -> ConnectionView {
    for _ in 0..100 {
        let c = admin.get_connection(conn_id).await.unwrap().value;
        if !c.receipts.is_empty()
            && c.receipts
                .iter()
                .all(|r| r.status == ReceiptStatus::Delivered)
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("receipts were not delivered");
}

#[tokio::test]
async fn a_revoke_refuses_the_next_exchange_and_kills_the_live_access_token() {
    let d = start_demo().await;
    let i = &d.info;
    let app = i.app("tickets");
    let grace = sign_in(i, "grace", "support-copilot", false).await;
    let jag = exchange(i, "support-copilot", &grace.id_token, "tickets", None)
        .await
        .unwrap();
    let unredeemed = exchange(i, "support-copilot", &grace.id_token, "tickets", None)
        .await
        .unwrap();
    let rc = resource_client(i, "support-copilot", "tickets");
    let at = agent::redeem(
        &agent::http_client(),
        &app.issuer,
        &rc,
        &jag.access_token,
        None,
    )
    .await
    .unwrap();
    agent::call_tool(&app.mcp, &at.access_token, "whoami", Default::default())
        .await
        .expect("works before");

    let dave = admin_session(i, "dave", false).await;
    let conns = dave
        .list_connections(&gatehouse_tests::query(&[
            ("client_id", "support-copilot".into()),
            ("status", "active".into()),
        ]))
        .await
        .unwrap();
    let conn = dave.get_connection(&conns.items[0].id).await.unwrap();
    let revoked = dave
        .connection_action(
            &conn.value.id,
            admin_api::ConnectionAction::Revoke,
            "laptop stolen",
            &Mutation {
                if_match: Some(&conn.etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(revoked.status, ConnectionStatus::Revoked);
    // No window: the very next exchange is refused.
    expect_oauth(
        exchange(i, "support-copilot", &grace.id_token, "tickets", None).await,
        xaa::ErrorCode::AccessDenied,
    );
    let c = wait_delivered(&dave, &conn.value.id).await;
    let receipt = &c.receipts[0];
    assert!(receipt.latency_ms.unwrap() >= 0);
    assert_eq!(
        receipt.receiver,
        format!("{}/revocation-events", app.issuer)
    );
    // The live access token is dead at the MCP server, and an ID-JAG minted before
    // the revoke can no longer be redeemed.
    let r = reqwest::Client::new()
        .post(&app.mcp)
        .bearer_auth(&at.access_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let late = agent::redeem(
        &agent::http_client(),
        &app.issuer,
        &rc,
        &unredeemed.access_token,
        None,
    )
    .await;
    expect_oauth(late, xaa::ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn the_kill_switch_needs_step_up_counts_first_and_blocks_a_user_everywhere() {
    let d = start_demo().await;
    let i = &d.info;
    let dave = admin_session(i, "dave", false).await;
    let dry = dave
        .bulk_revoke(
            &BulkRevoke {
                resource_app: Some("docs".into()),
                reason: "breach".into(),
                dry_run: true,
                ..Default::default()
            },
            &Mutation::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        dry.connections_revoked, 2,
        "code-agent and research-assistant reach docs"
    );
    assert_eq!(
        dry.events_queued, 2,
        "the dry run counts the events the real run queues"
    );
    let e = dave
        .bulk_revoke(
            &BulkRevoke {
                resource_app: Some("docs".into()),
                reason: "breach".into(),
                ..Default::default()
            },
            &Mutation::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(codes::STEP_UP_REQUIRED));
    let dave = admin_session(i, "dave", true).await;
    let done = dave
        .bulk_revoke(
            &BulkRevoke {
                resource_app: Some("docs".into()),
                reason: "breach".into(),
                ..Default::default()
            },
            &Mutation::default(),
        )
        .await
        .unwrap();
    assert_eq!(done.connections_revoked, 2);
    assert_eq!(done.events_queued, 2);
    let alice = sign_in(i, "alice", "code-agent", false).await;
    expect_oauth(
        exchange(i, "code-agent", &alice.id_token, "docs", None).await,
        xaa::ErrorCode::AccessDenied,
    );

    // By user: grace is cut off from every app, her live token dies.
    let grace = sign_in(i, "grace", "support-copilot", false).await;
    let app = i.app("tickets");
    let jag = exchange(i, "support-copilot", &grace.id_token, "tickets", None)
        .await
        .unwrap();
    let at = agent::redeem(
        &agent::http_client(),
        &app.issuer,
        &resource_client(i, "support-copilot", "tickets"),
        &jag.access_token,
        None,
    )
    .await
    .unwrap();
    let dry = dave
        .bulk_revoke(
            &BulkRevoke {
                username: Some("grace".into()),
                reason: "left the company".into(),
                dry_run: true,
                ..Default::default()
            },
            &Mutation::default(),
        )
        .await
        .unwrap();
    assert_eq!((dry.users_blocked, dry.events_queued), (1, 4));
    let blocked = dave
        .bulk_revoke(
            &BulkRevoke {
                username: Some("grace".into()),
                reason: "left the company".into(),
                ..Default::default()
            },
            &Mutation::default(),
        )
        .await
        .unwrap();
    assert_eq!((blocked.users_blocked, blocked.events_queued), (1, 4));
    let e = expect_oauth(
        exchange(i, "support-copilot", &grace.id_token, "tickets", None).await,
        xaa::ErrorCode::AccessDenied,
    );
    assert!(e.error_description.unwrap().contains("suspended"));
    let mut dead = false;
    for _ in 0..100 {
        let r = reqwest::Client::new()
            .post(&app.mcp)
            .bearer_auth(&at.access_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        if r.status() == 401 {
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dead, "the user's live token was killed");
}

#[tokio::test]
async fn audit_export_round_trips_and_verify_names_a_tampered_row() {
    let d = start_demo().await;
    let i = &d.info;
    let _ = sign_in(i, "alice", "code-agent", false).await;
    let heidi = admin_session(i, "heidi", false).await;
    let page = heidi
        .audit(&gatehouse_tests::query(&[("limit", "500".into())]))
        .await
        .unwrap();
    let jsonl = heidi
        .audit_export(&gatehouse_tests::query(&[("format", "jsonl".into())]))
        .await
        .unwrap();
    let parsed: Vec<AuditEventView> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len() as u64, page.total);
    assert_eq!(parsed, page.items[..parsed.len()].to_vec());
    let csv = heidi
        .audit_export(&gatehouse_tests::query(&[("format", "csv".into())]))
        .await
        .unwrap();
    assert!(csv.starts_with("seq,id,at_ms,kind"));
    assert_eq!(csv.lines().count() as u64, page.total + 1);
    assert!(heidi.audit_verify().await.unwrap().ok);
    sqlx::query(
        "UPDATE audit_events SET outcome = 'success' WHERE seq = 1 AND outcome != 'success'",
    )
    .execute(d.idp.store.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE audit_events SET reason = 'edited' WHERE seq = 2")
        .execute(d.idp.store.pool())
        .await
        .unwrap();
    let report = heidi.audit_verify().await.unwrap();
    assert!(!report.ok);
    assert!(report.first_broken.unwrap() <= 2);
    let bad = heidi
        .get_text("/audit/export", &[("format", "xml".into())])
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some(codes::VALIDATION));
}

#[tokio::test]
async fn the_event_stream_resumes_from_last_event_id() {
    let d = start_demo().await;
    let i = &d.info;
    let carol = admin_session(i, "carol", false).await;
    let id = pending_id(&carol, "code-agent", "tickets").await;
    let etag = carol.get_request(&id).await.unwrap().etag;
    carol
        .deny(
            &id,
            "no",
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let token = {
        let c = format!("{carol:?}");
        assert!(!c.contains("Bearer"));
        // Reach the token through a fresh session for the raw SSE request.
        let console = agent::ClientCreds {
            client_id: i.console_client_id.clone(),
            client_secret: String::new(),
        };
        agent::sign_in(
            &agent::http_client(),
            &i.idp,
            &console,
            "http://127.0.0.1:5000/callback",
            &user(i, "carol"),
            &agent::SignInOptions {
                extra_scope: Some(ADMIN_SCOPE.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .access_token
    };
    let mut resp = reqwest::Client::new()
        .get(format!("{}/admin/v1/events", i.idp))
        .bearer_auth(&token)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut text = String::new();
    while !text.contains("request.decided") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        text.contains("id: 1\n"),
        "the backlog starts after Last-Event-ID: {text}"
    );
    assert!(text.contains(&id));
}

#[tokio::test]
async fn api_tokens_are_shown_once_role_scoped_and_revocable() {
    let d = start_demo().await;
    let i = &d.info;
    let judy = admin_session(i, "judy", false).await;
    let created = judy
        .create_api_token(&CreateApiToken {
            name: "ci-audit-export".into(),
            roles: vec![Role::Auditor],
            expires_in: 3600,
        })
        .await
        .unwrap();
    assert!(created.token.starts_with("gh_adm_"));
    assert!(!format!("{created:?}").contains(&created.token));
    let bot = AdminClient::new(&i.idp, created.token.clone());
    assert_eq!(bot.whoami().await.unwrap().roles, vec![Role::Auditor]);
    assert!(bot.audit_verify().await.unwrap().ok);
    let e = bot.list_connections(&Default::default()).await;
    assert!(e.is_ok(), "auditors read connections");
    let forbidden = bot.raw(Method::GET, "/api-tokens", None).await.unwrap();
    assert_eq!(forbidden, StatusCode::FORBIDDEN);
    let listed: Vec<ApiTokenView> = judy.get_json("/api-tokens", &[]).await.unwrap();
    assert!(
        listed
            .iter()
            .all(|t| !serde_json::to_string(t).unwrap().contains(&created.token))
    );
    judy.revoke_api_token(&created.info.id).await.unwrap();
    assert_eq!(bot.whoami().await.unwrap_err().status(), Some(401));
    let rows: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(d.idp.store.pool())
        .await
        .unwrap();
    assert!(rows.iter().all(|h| *h != created.token), "stored hashed");
    let audit = judy
        .audit(&gatehouse_tests::query(&[(
            "kind",
            "api_token.create".into(),
        )]))
        .await
        .unwrap();
    assert_eq!(audit.total, 1);
}

#[tokio::test]
async fn the_served_openapi_document_matches_the_checked_in_copy() {
    let d = start_demo().await;
    let served: serde_json::Value = reqwest::get(format!("{}/admin/v1/openapi.json", d.info.idp))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json");
    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &pretty).unwrap();
    }
    let checked_in = std::fs::read_to_string(path)
        .expect("openapi.json is checked in (UPDATE_OPENAPI=1 writes it)");
    assert_eq!(
        checked_in, pretty,
        "the API changed: run UPDATE_OPENAPI=1 cargo test -p gatehouse-tests --test admin openapi"
    );
}

#[tokio::test]
async fn connection_filters_and_cursor_pages_agree_with_a_full_scan() {
    let d = start_demo().await;
    demo::scale::seed(&d, 300, 40).await.unwrap();
    // Writes through the API too (the stored risk follows inserts and scope
    // changes): approve a request, narrow the admin-risk code agent to reading.
    let carol = admin_session(&d.info, "carol", false).await;
    let pending = carol
        .list_requests(&gatehouse_tests::query(&[
            ("status", "pending".into()),
            ("q", "code-agent".into()),
        ]))
        .await
        .unwrap();
    let r = carol.get_request(&pending.items[0].id).await.unwrap();
    carol
        .approve(
            &r.value.id,
            &Default::default(),
            &admin_api::client::Mutation {
                if_match: Some(&r.etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let docs = carol
        .list_connections(&gatehouse_tests::query(&[
            ("client_id", "code-agent".into()),
            ("resource_app", "docs".into()),
        ]))
        .await
        .unwrap()
        .items[0]
        .clone();
    assert_eq!(docs.highest_risk, Some(admin_api::Risk::Admin));
    let etag = carol.get_connection(&docs.id).await.unwrap().etag;
    carol
        .modify_connection(
            &docs.id,
            &admin_api::ModifyConnection {
                scopes: Some(vec!["docs.read".into()]),
                reason: "least privilege".into(),
                ..Default::default()
            },
            &admin_api::client::Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let admin = admin_session(&d.info, "heidi", false).await;
    let all_pages = |query: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        async move {
            let mut out = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut q = query.clone();
                q.push(("limit", "37".into()));
                if let Some(c) = &cursor {
                    q.push(("cursor", c.clone()));
                }
                let page = admin
                    .list_connections(&gatehouse_tests::query(&q))
                    .await
                    .unwrap();
                out.extend(page.items.into_iter().map(|c| c.id));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => return (out, page.total),
                }
            }
        }
    };
    // Paging in SQL order returns every connection once, in created order.
    let (ids, total) = all_pages(vec![("status", "active".into())]).await;
    assert_eq!(total, 305, "300 seeded + the demo's 4 + one approved");
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "a connection appeared on two pages"
    );
    assert_eq!(ids.len() as u64, total);
    // Search by a configured client's name, and by a synthetic client's id.
    let (by_name, _) = all_pages(vec![("q", "code assistant".into())]).await;
    assert!(!by_name.is_empty());
    let (by_id, n) = all_pages(vec![("q", "AGENT-000012".into())]).await;
    assert_eq!(n, 4, "agent-000012 is connected to the four apps");
    assert!(by_id.iter().all(|id| id.starts_with("conn_scale")));
    // `_` and `%` are literal in a search, not wildcards.
    assert_eq!(all_pages(vec![("q", "%".into())]).await.1, 0);
    // A group filter, a user filter (groups from the directory), and risk.
    let sales = admin
        .list_connections(&gatehouse_tests::query(&[
            ("group", "sales".into()),
            ("limit", "500".into()),
        ]))
        .await
        .unwrap();
    assert!(
        sales.total > 0
            && sales
                .items
                .iter()
                .all(|c| c.allowed_groups.contains(&"sales".to_string()))
    );
    let alice = admin
        .list_connections(&gatehouse_tests::query(&[
            ("user", "alice".into()),
            ("limit", "500".into()),
        ]))
        .await
        .unwrap();
    assert!(alice.items.iter().all(|c| {
        c.allowed_groups.is_empty()
            || c.allowed_groups
                .iter()
                .any(|g| d.info.user("alice").groups.contains(g))
    }));
    assert!(alice.total < total, "the user filter excluded nothing");
    let risky = admin
        .list_connections(&gatehouse_tests::query(&[
            ("risk", "destructive".into()),
            ("limit", "500".into()),
        ]))
        .await
        .unwrap();
    assert!(risky.total > 0);
    assert!(
        risky
            .items
            .iter()
            .all(|c| c.highest_risk >= Some(admin_api::Risk::Destructive))
    );
    // The SQL risk filter agrees with the views' own highest risk, row for row.
    let mut scanned = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "500".to_string())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let page = admin
            .list_connections(&gatehouse_tests::query(&q))
            .await
            .unwrap();
        scanned += page
            .items
            .iter()
            .filter(|c| c.highest_risk >= Some(admin_api::Risk::Destructive))
            .count() as u64;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(risky.total, scanned);
    // Sorting by client uses display names: configured names, else ids.
    let by_client = admin
        .list_connections(&gatehouse_tests::query(&[
            ("sort", "client".into()),
            ("limit", "500".into()),
        ]))
        .await
        .unwrap();
    let names: Vec<&str> = by_client
        .items
        .iter()
        .map(|c| c.client.name.as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn stats_count_usage_issuance_decisions_and_queue_age() {
    let d = start_demo().await;
    let i = &d.info;
    let grace = sign_in(i, "grace", "support-copilot", false).await;
    for _ in 0..2 {
        exchange(i, "support-copilot", &grace.id_token, "tickets", None)
            .await
            .unwrap();
    }
    let carol = admin_session(i, "carol", false).await;
    let pending = carol
        .list_requests(&gatehouse_tests::query(&[("status", "pending".into())]))
        .await
        .unwrap();
    let before = pending.total;
    let plain: Vec<_> = pending.items.iter().filter(|r| !r.sensitive).collect();
    let a = carol.get_request(&plain[0].id).await.unwrap();
    carol
        .approve(
            &a.value.id,
            &Default::default(),
            &admin_api::client::Mutation {
                if_match: Some(&a.etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = carol.get_request(&plain[1].id).await.unwrap();
    carol
        .deny(
            &b.value.id,
            "not needed",
            &admin_api::client::Mutation {
                if_match: Some(&b.etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let s = carol.stats().await.unwrap();
    let copilot = s
        .usage
        .iter()
        .find(|u| u.client_id == "support-copilot" && u.resource_app == "tickets")
        .expect("usage row");
    assert_eq!(copilot.exchanges_30d, 2);
    let issued: u64 = s
        .issuance
        .iter()
        .filter(|b| b.client_id == "support-copilot")
        .map(|b| b.count)
        .sum();
    assert_eq!(issued, 2);
    assert_eq!(s.decisions.len(), 14);
    let today = s.decisions.last().unwrap();
    assert_eq!((today.approved, today.denied), (1, 1));
    let queued: u64 = s.pending_by_age.iter().map(|b| b.count).sum();
    assert_eq!(queued, before - 2);
    assert_eq!(
        s.pending_by_age[0].count, queued,
        "all of them arrived within the hour"
    );
}

#[tokio::test]
async fn the_audit_log_pages_oldest_or_newest_first() {
    let d = start_demo().await;
    let i = &d.info;
    for u in ["alice", "bob", "grace"] {
        sign_in(i, u, "support-copilot", false).await;
    }
    let heidi = admin_session(i, "heidi", false).await;
    let mut asc = Vec::new();
    let mut cursor: Option<String> = None;
    let total = loop {
        let mut q = vec![("limit", "2".to_string())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let page = heidi.audit(&gatehouse_tests::query(&q)).await.unwrap();
        asc.extend(page.items.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break page.total,
        }
    };
    assert!(total >= 4);
    assert_eq!(asc.len() as u64, total);
    assert!(
        asc.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no repeats"
    );
    let newest = heidi
        .audit(&gatehouse_tests::query(&[
            ("order", "desc".into()),
            ("limit", "3".into()),
        ]))
        .await
        .unwrap();
    let top: Vec<i64> = newest.items.iter().map(|e| e.seq).collect();
    let mut expected: Vec<i64> = asc.iter().rev().take(3).copied().collect();
    expected.truncate(3);
    assert_eq!(top, expected);
    let logins = heidi
        .audit(&gatehouse_tests::query(&[
            ("kind", "login".into()),
            ("order", "desc".into()),
        ]))
        .await
        .unwrap();
    assert!(logins.items.iter().all(|e| e.kind == "login"));
    let e = heidi
        .get_json::<serde_json::Value>("/audit", &[("order", "sideways".into())])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(admin_api::codes::VALIDATION));
}
