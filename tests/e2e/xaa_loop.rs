//! The XAA loop end to end over real loopback HTTP: the IdP's policy gate, the
//! resource AS's checks, the MCP server's scopes, and the audit chain.

use gatehouse_tests::*;
use serde_json::json;
use xaa::ErrorCode;

#[tokio::test]
async fn no_connection_is_access_denied_and_records_one_pending_request() {
    let d = start_demo().await;
    let i = &d.info;
    let alice = sign_in(i, "alice", "research-assistant", false).await;
    let e = expect_oauth(
        exchange(
            i,
            "research-assistant",
            &alice.id_token,
            "tickets",
            Some("tickets.read"),
        )
        .await,
        ErrorCode::AccessDenied,
    );
    let id = e
        .connection_request_id
        .clone()
        .expect("the refusal names the pending request");
    assert!(e.error_description.unwrap().contains(&id));
    let r = d.idp.store.request(&id).await.unwrap().unwrap();
    assert_eq!(
        (
            r.client_id.as_str(),
            r.resource_app.as_str(),
            r.status.as_str()
        ),
        ("research-assistant", "tickets", "pending")
    );
    assert_eq!(r.scopes, vec!["tickets.read"]);
    assert_eq!(r.users.len(), 1);
    assert_eq!(r.users[0].username, "alice");
    assert_eq!(
        r.users[0].groups,
        vec!["employees", "engineering"],
        "the directory lists groups by name"
    );
    assert_eq!(r.refused_count, 1);

    // A second refusal by another user with more scopes updates the same request.
    let grace = sign_in(i, "grace", "research-assistant", false).await;
    let e2 = expect_oauth(
        exchange(
            i,
            "research-assistant",
            &grace.id_token,
            "tickets",
            Some("tickets.comment"),
        )
        .await,
        ErrorCode::AccessDenied,
    );
    assert_eq!(e2.connection_request_id.as_deref(), Some(id.as_str()));
    let r = d.idp.store.request(&id).await.unwrap().unwrap();
    assert_eq!(r.scopes, vec!["tickets.comment", "tickets.read"]);
    assert_eq!(r.refused_count, 2);
    assert_eq!(
        r.users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        vec!["alice", "grace"]
    );
    assert!(r.last_seen >= r.first_seen);
}

#[tokio::test]
async fn approved_connection_lets_the_agent_call_the_mcp_tool() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "grace", "support-copilot", false).await;
    let jag = exchange(i, "support-copilot", &s.id_token, "tickets", None)
        .await
        .expect("exchange");
    assert_eq!(jag.issued_token_type, xaa::TOKEN_TYPE_ID_JAG);
    assert_eq!(jag.token_type, "N_A");
    assert!(
        jag.expires_in.is_some_and(|e| e <= 300),
        "our IdP says when it expires"
    );
    let app = i.app("tickets");
    let c = claims(&jag.access_token);
    assert_eq!(c["aud"], app.issuer.as_str());
    assert_eq!(c["iss"], i.idp.as_str());
    assert_eq!(c["sub"], "grace");
    assert_eq!(c["resource"], app.mcp.as_str());
    let http = agent::http_client();
    let at = agent::redeem(
        &http,
        &app.issuer,
        &resource_client(i, "support-copilot", "tickets"),
        &jag.access_token,
        None,
    )
    .await
    .expect("redeem");
    assert!(
        at.refresh_token.is_none(),
        "no refresh token from the resource AS"
    );
    assert!(at.expires_in.is_some_and(|e| e <= 300));
    let out = agent::call_tool(
        &app.mcp,
        &at.access_token,
        "list_records",
        Default::default(),
    )
    .await
    .expect("tool");
    assert!(!out.is_error, "{}", out.text);
    assert!(out.text.contains("VPN drops every hour"));
}

#[tokio::test]
async fn scopes_narrow_to_the_approved_set_and_unknown_scopes_drop() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "alice", "code-agent", false).await;
    let jag = exchange(
        i,
        "code-agent",
        &s.id_token,
        "docs",
        Some("docs.read docs.delete not.a.scope"),
    )
    .await
    .unwrap();
    assert_eq!(
        jag.scope.as_deref(),
        Some("docs.read"),
        "the response names the narrowed scope"
    );
    assert_eq!(claims(&jag.access_token)["scope"], "docs.read");
    let app = i.app("docs");
    let http = agent::http_client();
    let rc = resource_client(i, "code-agent", "docs");
    // Asking the resource AS for more than the ID-JAG carries gets the
    // intersection (MCP enterprise-managed authorization profile), never more.
    let at = agent::redeem(
        &http,
        &app.issuer,
        &rc,
        &jag.access_token,
        Some("docs.read docs.write"),
    )
    .await
    .unwrap();
    assert_eq!(at.scope.as_deref(), Some("docs.read"));
    let denied = agent::call_tool(
        &app.mcp,
        &at.access_token,
        "delete_record",
        json!({"id": 1}).as_object().unwrap().clone(),
    )
    .await;
    // The MCP scope challenge: 403 insufficient_scope, asking for what the
    // token holds plus what the call needs.
    match denied {
        Err(agent::AgentError::InsufficientScope { scope }) => {
            assert_eq!(scope, "docs.delete docs.read")
        }
        other => panic!("expected the scope challenge, got {other:?}"),
    }
    // Nothing allowed at all is invalid_scope.
    expect_oauth(
        exchange(i, "code-agent", &s.id_token, "docs", Some("docs.delete")).await,
        ErrorCode::InvalidScope,
    );
}

#[tokio::test]
async fn a_user_outside_the_allowed_groups_is_refused() {
    let d = start_demo().await;
    let i = &d.info;
    let bob = sign_in(i, "bob", "code-agent", false).await;
    let e = expect_oauth(
        exchange(i, "code-agent", &bob.id_token, "docs", Some("docs.read")).await,
        ErrorCode::AccessDenied,
    );
    assert!(e.error_description.unwrap().contains("group"));
    assert!(
        e.connection_request_id.is_none(),
        "a group refusal is not a new connection request"
    );
}

#[tokio::test]
async fn a_sensitive_scope_needs_mfa_and_succeeds_after_a_totp_sign_in() {
    let d = start_demo().await;
    let i = &d.info;
    let pwd = sign_in(i, "carol", "code-agent", false).await;
    assert_eq!(claims(&pwd.id_token)["acr"], xaa::ACR_PASSWORD);
    let e = expect_oauth(
        exchange(i, "code-agent", &pwd.id_token, "docs", Some("docs.admin")).await,
        ErrorCode::InsufficientUserAuthentication,
    );
    assert_eq!(e.acr_values.as_deref(), Some(xaa::ACR_MFA));

    let mfa = sign_in(i, "carol", "code-agent", true).await;
    assert_eq!(claims(&mfa.id_token)["acr"], xaa::ACR_MFA);
    let jag = exchange(i, "code-agent", &mfa.id_token, "docs", Some("docs.admin"))
        .await
        .expect("exchange after MFA");
    assert_eq!(claims(&jag.access_token)["scope"], "docs.admin");
    assert_eq!(claims(&jag.access_token)["acr"], xaa::ACR_MFA);

    // The rule's max_age (900 s) lapses: a step-up naming max_age.
    d.idp.advance_clock(1000);
    let e = expect_oauth(
        exchange(i, "code-agent", &mfa.id_token, "docs", Some("docs.admin")).await,
        ErrorCode::InsufficientUserAuthentication,
    );
    assert_eq!(e.max_age, Some(900));
}

#[tokio::test]
async fn an_id_token_issued_to_another_client_is_refused_as_subject_token() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "alice", "code-agent", false).await;
    let e = expect_oauth(
        exchange(i, "research-assistant", &s.id_token, "docs", None).await,
        ErrorCode::InvalidGrant,
    );
    assert!(e.error_description.unwrap().contains("different client"));
}

#[tokio::test]
async fn unknown_audience_and_resource_are_invalid_target() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "alice", "code-agent", false).await;
    let http = agent::http_client();
    let c = client(i, "code-agent");
    let r = agent::exchange(
        &http,
        &i.idp,
        &c,
        &s.id_token,
        &agent::ExchangeRequest {
            audience: "https://nowhere.example",
            resource: None,
            scope: None,
        },
    )
    .await;
    expect_oauth(r, ErrorCode::InvalidTarget);
    let docs = i.app("docs");
    let r = agent::exchange(
        &http,
        &i.idp,
        &c,
        &s.id_token,
        &agent::ExchangeRequest {
            audience: &docs.issuer,
            resource: Some(&i.app("crm").mcp),
            scope: None,
        },
    )
    .await;
    expect_oauth(r, ErrorCode::InvalidTarget);
    // A trailing-slash variant of the issuer is a different audience (exact string match).
    let slash = format!("{}/", docs.issuer);
    let r = agent::exchange(
        &http,
        &i.idp,
        &c,
        &s.id_token,
        &agent::ExchangeRequest {
            audience: &slash,
            resource: None,
            scope: None,
        },
    )
    .await;
    expect_oauth(r, ErrorCode::InvalidTarget);
}

#[tokio::test]
async fn bad_client_credentials_are_invalid_client() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "alice", "code-agent", false).await;
    let wrong = agent::ClientCreds {
        client_id: "code-agent".into(),
        client_secret: "wrong".into(),
    };
    let a = i.app("docs");
    let r = agent::exchange(
        &agent::http_client(),
        &i.idp,
        &wrong,
        &s.id_token,
        &agent::ExchangeRequest {
            audience: &a.issuer,
            resource: None,
            scope: None,
        },
    )
    .await;
    let e = expect_oauth(r, ErrorCode::InvalidClient);
    assert!(
        !e.to_string().contains("wrong"),
        "the error never echoes the secret"
    );
}
