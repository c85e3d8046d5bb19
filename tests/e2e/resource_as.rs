//! The resource authorization server refuses every bad ID-JAG presented over HTTP:
//! replayed, expired, for another audience, for another client, with the wrong
//! `typ`, or tampered; and says so clearly when the IdP's keys are unreachable.

use gatehouse_tests::*;
use serde_json::Value;
use xaa::{ErrorCode, util::b64};

struct Setup {
    demo: Demo,
    jag: String,
}

async fn setup() -> Setup {
    let demo = start_demo().await;
    let s = sign_in(&demo.info, "grace", "support-copilot", false).await;
    let jag = exchange(&demo.info, "support-copilot", &s.id_token, "tickets", None)
        .await
        .unwrap()
        .access_token;
    Setup { demo, jag }
}

async fn redeem_at(
    d: &Demo,
    app: &str,
    client: &str,
    jag: &str,
) -> Result<agent::AccessToken, agent::AgentError> {
    let a = d.info.app(app);
    agent::redeem(
        &agent::http_client(),
        &a.issuer,
        &resource_client(&d.info, client, app),
        jag,
        None,
    )
    .await
}

fn description(e: xaa::OAuthError) -> String {
    e.error_description.unwrap_or_default()
}

/// Re-signs modified claims (and optionally header `typ`) with the IdP's real key.
fn resign(d: &Demo, jag: &str, edit: impl Fn(&mut Value), typ: &str) -> String {
    let mut c = claims(jag);
    edit(&mut c);
    d.idp.key.sign(typ, &c)
}

#[tokio::test]
async fn a_replayed_id_jag_is_refused() {
    let s = setup().await;
    redeem_at(&s.demo, "tickets", "support-copilot", &s.jag)
        .await
        .expect("first use");
    let e = expect_oauth(
        redeem_at(&s.demo, "tickets", "support-copilot", &s.jag).await,
        ErrorCode::InvalidGrant,
    );
    let d = description(e);
    assert!(d.contains("already used"), "{d}");
    // A client written to the base draft (which allows re-submitting an unexpired
    // ID-JAG) learns why and what to do.
    assert!(d.contains("accepted once, even before it expires"), "{d}");
    assert!(d.contains("ask the IdP for a new one"), "{d}");
}

#[tokio::test]
async fn an_expired_id_jag_is_refused() {
    let s = setup().await;
    let now = claims(&s.jag)["iat"].as_u64().unwrap();
    let old = resign(
        &s.demo,
        &s.jag,
        |c| {
            c["iat"] = (now - 600).into();
            c["exp"] = (now - 400).into();
        },
        xaa::TYP_ID_JAG,
    );
    let e = expect_oauth(
        redeem_at(&s.demo, "tickets", "support-copilot", &old).await,
        ErrorCode::InvalidGrant,
    );
    assert!(description(e).contains("expired"));
}

#[tokio::test]
async fn an_id_jag_for_another_audience_is_refused() {
    let s = setup().await;
    // Minted for the tickets AS, presented at the docs AS by a client known there.
    let e = expect_oauth(
        redeem_at(&s.demo, "docs", "support-copilot", &s.jag).await,
        ErrorCode::InvalidGrant,
    );
    assert!(description(e).contains("aud"));
}

#[tokio::test]
async fn an_id_jag_presented_by_another_client_is_refused() {
    let s = setup().await;
    let e = expect_oauth(
        redeem_at(&s.demo, "tickets", "code-agent", &s.jag).await,
        ErrorCode::InvalidGrant,
    );
    assert!(description(e).contains("different client"));
    // The refused presentation did not burn it: the rightful client still can.
    redeem_at(&s.demo, "tickets", "support-copilot", &s.jag)
        .await
        .expect("rightful client");
}

#[tokio::test]
async fn a_wrong_typ_is_refused() {
    let s = setup().await;
    let jwt = resign(&s.demo, &s.jag, |_| {}, "JWT");
    let e = expect_oauth(
        redeem_at(&s.demo, "tickets", "support-copilot", &jwt).await,
        ErrorCode::InvalidGrant,
    );
    assert!(description(e).contains("typ"));
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let s = setup().await;
    let parts: Vec<&str> = s.jag.split('.').collect();
    let mut c = claims(&s.jag);
    c["scope"] = "tickets.read tickets.close".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(c.to_string().as_bytes()),
        parts[2]
    );
    let e = expect_oauth(
        redeem_at(&s.demo, "tickets", "support-copilot", &forged).await,
        ErrorCode::InvalidGrant,
    );
    assert!(description(e).contains("signature"));
}

#[tokio::test]
async fn a_bad_resource_client_secret_is_invalid_client() {
    let s = setup().await;
    let a = s.demo.info.app("tickets");
    let bad = agent::ClientCreds {
        client_id: "support-copilot".into(),
        client_secret: "nope".into(),
    };
    let r = agent::redeem(&agent::http_client(), &a.issuer, &bad, &s.jag, None).await;
    expect_oauth(r, ErrorCode::InvalidClient);
}

#[tokio::test]
async fn an_unreachable_idp_jwks_is_temporarily_unavailable_and_burns_nothing() {
    let s = setup().await;
    // A resource app whose trusted IdP JWKS points at a closed port.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let tickets = &s.demo.apps[2].state.config;
    let mut cfg = tickets.clone();
    cfg.issuer = String::new();
    cfg.trusted_idp.jwks_uri = format!("http://{dead_addr}/jwks");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = resource::start(cfg, l).await.unwrap();
    let creds = resource_client(&s.demo.info, "support-copilot", "tickets");
    let r = agent::redeem(&agent::http_client(), app.issuer(), &creds, &s.jag, None).await;
    let e = expect_oauth(r, ErrorCode::TemporarilyUnavailable);
    assert!(description(e).contains("keys are unavailable"));
    redeem_at(&s.demo, "tickets", "support-copilot", &s.jag)
        .await
        .expect("the ID-JAG was not consumed");
}

#[tokio::test]
async fn mcp_without_or_with_a_bad_token_gets_401_pointing_at_resource_metadata() {
    let s = setup().await;
    let a = s.demo.info.app("tickets");
    let http = reqwest::Client::new();
    let r = http
        .post(&a.mcp)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let meta_url = format!("{}/.well-known/oauth-protected-resource/mcp", a.issuer);
    assert!(
        www.contains(&format!("resource_metadata=\"{meta_url}\"")),
        "{www}"
    );
    // The least scope to start with (an SDK asks for it instead of every
    // scope in scopes_supported) and, with no token sent, no error code
    // (RFC 6750 §3.1).
    assert!(www.contains("scope=\"tickets.read\""), "{www}");
    assert!(!www.contains("error="), "{www}");
    let r = http
        .post(&a.mcp)
        .bearer_auth("not-a-token")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let meta: Value = http
        .get(&meta_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["resource"], a.mcp.as_str());
    assert_eq!(meta["authorization_servers"][0], a.issuer.as_str());
    // An access token for another MCP server is not accepted here (audience restriction).
    let at = redeem_at(&s.demo, "tickets", "support-copilot", &s.jag)
        .await
        .unwrap();
    let docs = s.demo.info.app("docs");
    let r = http
        .post(&docs.mcp)
        .bearer_auth(&at.access_token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// An MCP `initialize` over the Streamable HTTP transport, with `origin` if any.
async fn initialize(
    http: &reqwest::Client,
    mcp: &str,
    token: &str,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut r = http
        .post(mcp)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "origin-test", "version": "1" }
            }
        }));
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn the_mcp_server_refuses_a_foreign_origin_and_ends_a_session_with_200() {
    let s = setup().await;
    let a = s.demo.info.app("tickets");
    let at = redeem_at(&s.demo, "tickets", "support-copilot", &s.jag)
        .await
        .unwrap()
        .access_token;
    let http = reqwest::Client::new();
    // A page on another origin (DNS rebinding to a loopback Host): refused
    // before the token is looked at, so a valid token does not help it.
    for evil in [
        "http://evil.example.com",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let r = initialize(&http, &a.mcp, &at, Some(evil)).await;
        assert_eq!(r.status(), 403, "Origin {evil}");
    }
    let r = http
        .post(&a.mcp)
        .header("origin", "http://evil.example.com")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no token either: still the Origin answer");
    // The server's own origin, and a client that sends no Origin (not a browser).
    let own = url::Url::parse(&a.mcp)
        .unwrap()
        .origin()
        .ascii_serialization();
    for origin in [Some(own.as_str()), None] {
        let r = initialize(&http, &a.mcp, &at, origin).await;
        assert_eq!(r.status(), 200, "Origin {origin:?}");
        let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        // Ending the session: 200, which the official SDKs treat as success.
        let r = http
            .delete(&a.mcp)
            .bearer_auth(&at)
            .header("mcp-session-id", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "session DELETE");
        // The session is gone.
        let r = http
            .post(&a.mcp)
            .bearer_auth(&at)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .json(&serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "a deleted session is not served");
    }
}

#[tokio::test]
async fn authorization_server_metadata_advertises_the_id_jag_profile() {
    let s = setup().await;
    let a = s.demo.info.app("tickets");
    let m: Value = reqwest::get(format!(
        "{}/.well-known/oauth-authorization-server",
        a.issuer
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(m["issuer"], a.issuer.as_str(), "byte-identical issuer");
    assert_eq!(
        m["authorization_grant_profiles_supported"][0],
        xaa::GRANT_PROFILE_ID_JAG
    );
    assert_eq!(m["grant_types_supported"][0], xaa::GRANT_JWT_BEARER);
    // What the MCP SDKs' schemas require is present, and true: no response type
    // and no PKCE method, because nothing is issued at the authorization endpoint.
    assert_eq!(m["response_types_supported"], serde_json::json!([]));
    assert_eq!(m["code_challenge_methods_supported"], serde_json::json!([]));
    let authorize = m["authorization_endpoint"].as_str().expect("present");
    let r = agent::http_client()
        .get(format!(
            "{authorize}?response_type=code&client_id=support-copilot&redirect_uri=https://evil.example/cb&state=x"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "an error page");
    assert!(
        r.headers().get("location").is_none(),
        "never a redirect to an unregistered URI"
    );
    let o: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        s.demo.info.idp
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(o["issuer"], s.demo.info.idp.as_str());
    assert_eq!(
        o["identity_chaining_requested_token_types_supported"][0],
        xaa::TOKEN_TYPE_ID_JAG
    );
    assert_eq!(
        o["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

/// The JWT bearer grant at the resource AS with optional `scope` and `resource`.
async fn redeem_with(
    d: &Demo,
    jag: &str,
    scope: Option<&str>,
    resource: Option<&str>,
) -> (u16, Value) {
    let a = d.info.app("tickets");
    let c = resource_client(&d.info, "support-copilot", "tickets");
    let mut form = vec![("grant_type", xaa::GRANT_JWT_BEARER), ("assertion", jag)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    let r = reqwest::Client::new()
        .post(format!("{}/token", a.issuer))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn the_resource_as_binds_the_resource_and_issues_the_intersection_of_scopes() {
    let d = start_demo().await;
    let i = &d.info;
    let fresh = |scope: &'static str| async move {
        let s = sign_in(i, "grace", "support-copilot", false).await;
        exchange(i, "support-copilot", &s.id_token, "tickets", Some(scope))
            .await
            .unwrap()
            .access_token
    };
    // Asked for more than the ID-JAG carries: the intersection is issued, and
    // the answer says which scopes (RFC 6749 §5.1).
    let jag = fresh("tickets.read").await;
    assert_eq!(claims(&jag)["scope"], "tickets.read");
    let (st, body) = redeem_with(&d, &jag, Some("tickets.read tickets.close"), None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["scope"], "tickets.read");
    // Nothing in common: refused, and the ID-JAG is not used up by the refusal.
    let jag = fresh("tickets.read").await;
    let (st, body) = redeem_with(&d, &jag, Some("tickets.close"), None).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (st, body) = redeem_with(&d, &jag, None, None).await;
    assert_eq!(
        (st, body["scope"].as_str()),
        (200, Some("tickets.read")),
        "{body}"
    );
    // A `resource` other than the one the ID-JAG names, or one this AS does not
    // serve, is invalid_target.
    let jag = fresh("tickets.read").await;
    let docs_mcp = i.app("docs").mcp.clone();
    let (st, body) = redeem_with(&d, &jag, None, Some(&docs_mcp)).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    let elsewhere = resign(
        &d,
        &jag,
        |c| {
            c["resource"] = Value::String(docs_mcp.clone());
            c["jti"] = Value::String("another-jti".into());
        },
        xaa::TYP_ID_JAG,
    );
    let (st, body) = redeem_with(&d, &elsewhere, None, None).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
    // The ID-JAG naming this server, presented with it: accepted.
    let tickets_mcp = i.app("tickets").mcp.clone();
    let (st, body) = redeem_with(&d, &jag, None, Some(&tickets_mcp)).await;
    assert_eq!(st, 200, "{body}");
}

/// An access token for the tickets app's read scope only (the AS issues what
/// was asked of what the ID-JAG carries).
async fn read_only_token(s: &Setup) -> String {
    agent::redeem(
        &agent::http_client(),
        &s.demo.info.app("tickets").issuer,
        &resource_client(&s.demo.info, "support-copilot", "tickets"),
        &s.jag,
        Some("tickets.read"),
    )
    .await
    .unwrap()
    .access_token
}

#[tokio::test]
async fn a_tool_call_beyond_the_tokens_scopes_gets_the_mcp_scope_challenge() {
    let s = setup().await;
    let a = s.demo.info.app("tickets");
    // Closing a ticket is beyond a read-only token.
    let at = read_only_token(&s).await;
    let http = reqwest::Client::new();
    let r = initialize(&http, &a.mcp, &at, None).await;
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let call = |tool: &str| {
        http.post(&a.mcp)
            .bearer_auth(&at)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .json(&serde_json::json!({
                "jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": { "name": tool, "arguments": { "id": 1 } }
            }))
            .send()
    };
    let r = call("delete_record").await.unwrap();
    assert_eq!(r.status(), 403, "a valid token without tickets.close");
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    // What it holds plus what this call needs, so a step-up loses nothing.
    assert_eq!(
        agent::discover::challenge_param(&challenge, "scope").as_deref(),
        Some("tickets.close tickets.read"),
        "{challenge}"
    );
    assert_eq!(
        agent::discover::challenge_param(&challenge, "resource_metadata"),
        Some(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            a.issuer
        ))
    );
    // A tool it is scoped for goes through to the tool.
    let r = call("get_record").await.unwrap();
    assert_eq!(r.status(), 200);
    // A bound: a message past 1 MiB is 413, read no further.
    let r = http
        .post(&a.mcp)
        .bearer_auth(&at)
        .header("mcp-session-id", &session)
        .header("content-type", "application/json")
        .body(vec![b' '; (1 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // The agent reports the challenge as what it is.
    let e = agent::call_tool(
        &a.mcp,
        &at,
        "delete_record",
        serde_json::json!({"id": 1}).as_object().unwrap().clone(),
    )
    .await
    .unwrap_err();
    match e {
        agent::AgentError::InsufficientScope { scope } => {
            assert_eq!(scope, "tickets.close tickets.read")
        }
        other => panic!("expected the scope challenge, got {other}"),
    }
}

/// MCP 2026-07-28 has no sessions and no `initialize` (SEP-2567): every request
/// carries its protocol version and client capabilities in `_meta`, and the
/// bearer token is checked on each one. Our server answers such a client with
/// no session at all, and the token checks are the same as for a session.
#[tokio::test]
async fn a_2026_07_28_client_is_served_statelessly_with_the_same_token_checks() {
    let s = setup().await;
    let a = s.demo.info.app("tickets");
    let at = read_only_token(&s).await;
    let http = reqwest::Client::new();
    let send = |token: Option<&str>, id: u64, method: &str, params: Value| {
        let mut params = params;
        params["_meta"] = serde_json::json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "stateless-peer", "version": "1" },
        });
        let mut r = http
            .post(&a.mcp)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            // Header-based routing of 2026-07-28: the method (and a tool's
            // name) travel in headers too.
            .header("mcp-method", method);
        if let Some(name) = params["name"].as_str() {
            r = r.header("mcp-name", name);
        }
        r = r.json(&serde_json::json!({
            "jsonrpc": "2.0", "id": id, "method": method, "params": params
        }));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    // The JSON-RPC answer, whether sent as JSON or as one SSE event.
    let answer = |body: &str| -> Value {
        let json = body
            .lines()
            .find_map(|l| l.strip_prefix("data:").map(str::trim))
            .filter(|l| !l.is_empty())
            .unwrap_or(body);
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {body}"))
    };

    let r = send(Some(&at), 1, "server/discover", serde_json::json!({}))
        .await
        .unwrap();
    let status = r.status();
    let headers = format!("{:?}", r.headers());
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{headers}\n{body}");
    assert!(
        !headers.contains("mcp-session-id"),
        "no session in 2026-07-28"
    );
    let v = answer(&body);
    assert!(v["result"].is_object(), "{v}");

    let r = send(
        Some(&at),
        2,
        "tools/call",
        serde_json::json!({ "name": "get_record", "arguments": { "id": 1 } }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("mcp-session-id").is_none());
    let v = answer(&r.text().await.unwrap());
    assert_eq!(v["id"], 2, "{v}");
    assert_eq!(v["result"]["isError"], false, "{v}");

    // The same checks as with a session: beyond the scopes → 403 challenge,
    // no token or a bad one → 401.
    let r = send(
        Some(&at),
        3,
        "tools/call",
        serde_json::json!({ "name": "delete_record", "arguments": { "id": 1 } }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );
    for token in [None, Some("not-a-token")] {
        let r = send(token, 4, "tools/list", serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{token:?}");
    }
}
