//! The help desk against the real IdP on loopback: one search finds a client,
//! a user or an app with everything live for it; the kill switch counts first,
//! then revokes and shows each receiver's receipt; the agent feels it; the
//! evidence bundle holds the target, connections, receipts and the actions.

mod common;
use common::{browser, world};
use console::helpdesk::{self, TargetKind};
use std::time::Duration;

#[tokio::test]
async fn search_count_kill_and_evidence() {
    let w = world(Duration::from_secs(600)).await;
    let i = &w.demo.info;
    // grace's copilot is in use right now.
    let grace = gatehouse_agent_sign_in(i, "grace", "support-copilot").await;
    let jag = exchange(i, "support-copilot", &grace).await;
    assert!(jag.is_ok());
    // dave (help desk) signs in with MFA: a kill switch needs a fresh second factor.
    w.console
        .sign_in_browser(&w.profile, true, browser(i, "dave", true))
        .await
        .unwrap();

    let v = helpdesk::search(&w.console, "copilot").await.unwrap();
    let t = v
        .target
        .clone()
        .expect("one match: the Support Copilot client");
    assert_eq!(
        (t.kind, t.id.as_str()),
        (TargetKind::Client, "support-copilot")
    );
    assert_eq!(v.connections.len(), 1);
    assert!(v.recent_id_jags.iter().any(|j| j.subject == "grace"));
    assert!(v.possibly_live >= 1);
    let by_user = helpdesk::search(&w.console, "grace").await.unwrap();
    assert!(
        by_user
            .matches
            .iter()
            .any(|m| m.kind == TargetKind::User && m.id == "grace")
    );
    let none = helpdesk::search(&w.console, "zzz-nothing").await.unwrap();
    assert!(none.matches.is_empty() && none.target.is_none());

    // The exact count first; nothing changes.
    let dry = helpdesk::kill(
        &w.console,
        TargetKind::Client,
        "support-copilot",
        "compromised",
        true,
    )
    .await
    .unwrap();
    assert!(dry.result.dry_run);
    assert_eq!(dry.result.connections_revoked, 1);
    assert!(
        exchange(i, "support-copilot", &grace).await.is_ok(),
        "a dry run changes nothing"
    );
    let e = helpdesk::kill(
        &w.console,
        TargetKind::Client,
        "support-copilot",
        " ",
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, console::ErrorCode::Invalid);

    // Then for real: each receiver's receipt comes back; the agent is refused.
    let done = helpdesk::kill(
        &w.console,
        TargetKind::Client,
        "support-copilot",
        "compromised",
        false,
    )
    .await
    .unwrap();
    assert_eq!(done.result.connections_revoked, 1);
    assert_eq!(done.receipts.len(), 1);
    assert!(
        done.receipts[0]
            .receipts
            .iter()
            .all(|r| r.delivered_at_ms.is_some())
    );
    assert!(exchange(i, "support-copilot", &grace).await.is_err());
    // After the kill switch, nothing it issued can still be live.
    let after = helpdesk::lookup(&w.console, TargetKind::Client, "support-copilot")
        .await
        .unwrap();
    assert!(after.connections.is_empty());
    assert!(!after.recent_id_jags.is_empty());
    assert_eq!(after.possibly_live, 0);

    let bundle = helpdesk::evidence(&w.console, TargetKind::Client, "support-copilot")
        .await
        .unwrap();
    assert_eq!(bundle["target"]["id"], "support-copilot");
    let conns = bundle["connections"].as_array().unwrap();
    assert!(
        conns
            .iter()
            .any(|c| c["status"] == "revoked" && !c["receipts"].as_array().unwrap().is_empty())
    );
    assert!(
        bundle["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["actor"] == "dave")
    );
    let text = bundle.to_string();
    assert!(
        xaa::util::token_shaped(&text).is_empty(),
        "evidence carries no token"
    );
}

async fn gatehouse_agent_sign_in(info: &demo::DemoInfo, user: &str, client: &str) -> String {
    let u = info.user(user);
    let c = info.client(client);
    agent::sign_in(
        &agent::http_client(),
        &info.idp,
        &agent::ClientCreds {
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
        },
        demo::REDIRECT_URI,
        &agent::UserCreds {
            username: u.username.clone(),
            password: u.password.clone(),
            totp_secret: u.totp_secret.clone(),
        },
        &agent::SignInOptions::default(),
    )
    .await
    .unwrap()
    .id_token
}

async fn exchange(
    info: &demo::DemoInfo,
    client: &str,
    id_token: &str,
) -> Result<agent::IdJagResponse, agent::AgentError> {
    let c = info.client(client);
    let app = info.app("tickets");
    agent::exchange(
        &agent::http_client(),
        &info.idp,
        &agent::ClientCreds {
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
        },
        id_token,
        &agent::ExchangeRequest {
            audience: &app.issuer,
            resource: Some(&app.mcp),
            scope: None,
        },
    )
    .await
}
