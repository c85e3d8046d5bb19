//! The agent against token endpoints that answer the way real servers may:
//! a loopback server per case answers the token exchange (RFC 8693) or the
//! JWT-bearer grant (RFC 7523 / RFC 6749 §5.1) with a fixed JSON body. What
//! the RFCs leave optional (`expires_in`, `scope`, `refresh_token`) may be
//! missing; what they forbid (an issued token that is not an ID-JAG, a
//! `token_type` the agent cannot use) is refused with a message that says so.

use agent::{AgentError, ClientCreds, ExchangeRequest};
use axum::{Json, Router, routing::post};
use serde_json::{Value, json};

/// A token endpoint at `http://127.0.0.1:…/token` that always answers `body`.
async fn token_endpoint(body: Value) -> String {
    let app = Router::new().route("/token", post(move || async move { Json(body) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn creds() -> ClientCreds {
    ClientCreds {
        client_id: "agent".into(),
        client_secret: "s".into(),
    }
}

async fn exchange(body: Value) -> Result<agent::IdJagResponse, AgentError> {
    let idp = token_endpoint(body).await;
    let req = ExchangeRequest {
        audience: "https://as.example",
        resource: None,
        scope: None,
    };
    agent::exchange(&agent::http_client(), &idp, &creds(), "id-token", &req).await
}

async fn redeem(body: Value) -> Result<agent::AccessToken, AgentError> {
    let as_ = token_endpoint(body).await;
    agent::redeem(&agent::http_client(), &as_, &creds(), "id-jag", None).await
}

fn protocol_error(r: Result<impl Sized, AgentError>) -> String {
    match r {
        Err(AgentError::Protocol(m)) => m,
        Err(e) => panic!("expected a protocol error, got {e}"),
        Ok(_) => panic!("expected a protocol error, got a token"),
    }
}

#[tokio::test]
async fn an_exchange_answer_without_expires_in_or_scope_is_accepted() {
    let jag = exchange(json!({
        "access_token": "eyJ.jag.sig",
        "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag",
        "token_type": "N_A",
    }))
    .await
    .expect("expires_in is RECOMMENDED, not REQUIRED");
    assert_eq!(jag.access_token, "eyJ.jag.sig");
    assert_eq!(jag.expires_in, None);
    assert_eq!(jag.scope, None);
    // token_type is case-insensitive (RFC 8693 §2.2.1), and extra members are ignored.
    let jag = exchange(json!({
        "access_token": "eyJ.jag.sig",
        "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag",
        "token_type": "n_a",
        "expires_in": 300,
        "scope": "crm.read",
        "refresh_token": "ignored",
        "vendor_extension": {"x": 1},
    }))
    .await
    .unwrap();
    assert_eq!(jag.expires_in, Some(300));
    assert_eq!(jag.scope.as_deref(), Some("crm.read"));
}

#[tokio::test]
async fn an_exchange_answer_that_is_not_an_id_jag_is_refused() {
    let m = protocol_error(
        exchange(json!({
            "access_token": "at",
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
        }))
        .await,
    );
    assert!(m.contains("not an ID-JAG"), "{m}");
    let m = protocol_error(
        exchange(json!({
            "access_token": "eyJ.jag.sig",
            "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag",
            "token_type": "Bearer",
        }))
        .await,
    );
    assert!(m.contains("N_A"), "{m}");
    // Required members missing: refused, and the message names the member.
    let m = protocol_error(
        exchange(json!({ "access_token": "eyJ.jag.sig", "token_type": "N_A" })).await,
    );
    assert!(m.contains("issued_token_type"), "{m}");
}

#[tokio::test]
async fn an_access_token_answer_without_expires_in_is_accepted_and_only_bearer_is_used() {
    let at = redeem(json!({ "access_token": "at", "token_type": "bearer" }))
        .await
        .expect("expires_in and scope are optional in RFC 6749 §5.1");
    assert_eq!(at.expires_in, None);
    assert_eq!(at.refresh_token, None);
    let m = protocol_error(redeem(json!({ "access_token": "at", "token_type": "DPoP" })).await);
    assert!(m.contains("Bearer"), "{m}");
    let m = protocol_error(redeem(json!({ "token_type": "Bearer" })).await);
    assert!(m.contains("access_token"), "{m}");
}

/// An MCP server and its authorization server on one loopback port, whose
/// metadata says what the case wants: `resource` and `issuer` are formats
/// with `{base}` for the server's own URL.
async fn mcp_server(challenge: bool, resource: &str, issuer: &str) -> String {
    use axum::{
        http::{HeaderMap, HeaderValue, StatusCode, header},
        routing::get,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (resource, issuer) = (
        resource.replace("{base}", &base),
        issuer.replace("{base}", &base),
    );
    let prm = format!("{base}/.well-known/oauth-protected-resource/mcp");
    let app = Router::new()
        .route(
            "/mcp",
            post(move || async move {
                let mut h = HeaderMap::new();
                if challenge {
                    let v = format!("Bearer resource_metadata=\"{prm}\"");
                    h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(&v).unwrap());
                }
                (StatusCode::UNAUTHORIZED, h)
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get({
                let base = base.clone();
                move || async move {
                    Json(json!({ "resource": resource, "authorization_servers": [base] }))
                }
            }),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get({
                let base = base.clone();
                move || async move {
                    Json(json!({
                        "issuer": issuer,
                        "token_endpoint": format!("{base}/token"),
                        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
                    }))
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn discovery_goes_from_the_mcp_url_to_the_issuer_and_checks_each_step() {
    let http = agent::http_client();
    // With the challenge, and without it (the RFC 9728 well-known URL instead).
    for challenge in [true, false] {
        let base = mcp_server(challenge, "{base}/mcp", "{base}").await;
        let d = agent::discover::discover(&http, &format!("{base}/mcp"))
            .await
            .unwrap();
        assert_eq!(d.issuer, base);
        assert_eq!(d.resource, format!("{base}/mcp"));
        assert_eq!(d.token_endpoint, format!("{base}/token"));
    }
    // Metadata for another resource: an attacker's metadata cannot redirect the ID-JAG.
    let base = mcp_server(true, "https://other.example/mcp", "{base}").await;
    let m = protocol_error(agent::discover::discover(&http, &format!("{base}/mcp")).await);
    assert!(m.contains("RFC 9728"), "{m}");
    // An authorization server calling itself something else.
    let base = mcp_server(true, "{base}/mcp", "https://evil.example").await;
    let m = protocol_error(agent::discover::discover(&http, &format!("{base}/mcp")).await);
    assert!(m.contains("RFC 8414"), "{m}");
    // A server that answers without asking for a token says nothing about authorization.
    let open = token_endpoint(json!({})).await;
    let m = protocol_error(agent::discover::discover(&http, &format!("{open}/token")).await);
    assert!(m.contains("not 401"), "{m}");
}
