//! AI clients managed at run time through the admin API over loopback: a
//! registered client is honoured at once (its secret shown once, never again,
//! never in the audit log), a rotated secret keeps the old one working for the
//! overlap only, edits and retirement take `If-Match`, a retired client is
//! refused everywhere and its connections are revoked; the store, not the
//! config file, is the truth from then on.

use gatehouse_tests::*;
use serde_json::{Value, json};
use xaa::ErrorCode;

struct Admin {
    http: reqwest::Client,
    base: String,
    token: String,
}

struct Answer {
    status: u16,
    etag: Option<String>,
    body: Value,
}

impl Admin {
    async fn new(d: &Demo, mfa: bool) -> Admin {
        Admin {
            http: reqwest::Client::new(),
            base: format!("{}/admin/v1", d.info.idp),
            token: admin_token(&d.info, "judy", mfa).await,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        if_match: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(v) = if_match {
            r = r.header("if-match", v);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let etag = resp
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        Answer {
            status,
            etag,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }
}

/// A token-endpoint call authenticating as `client_id` with `secret`:
/// `invalid_client` or not.
async fn authenticates(d: &Demo, client_id: &str, secret: &str) -> bool {
    let r = reqwest::Client::new()
        .post(format!("{}/token", d.info.idp))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["error"] != "invalid_client"
}

fn register_body(owners: Value) -> Value {
    json!({
        "client_id": "sales-copilot",
        "name": "Sales Copilot",
        "description": "Drafts follow-ups from the CRM",
        "owners": owners,
        "redirect_uris": [demo::REDIRECT_URI],
        "credential": { "method": "client_secret" },
    })
}

#[tokio::test]
async fn a_registered_client_is_honoured_at_once_and_its_secret_is_shown_once() {
    let d = start_demo().await;
    let admin = Admin::new(&d, false).await;
    let r = admin
        .call(
            "POST",
            "/clients",
            None,
            Some(register_body(json!(["alice"]))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.etag.as_deref(), Some("\"v1\""));
    let secret = r.body["client_secret"]
        .as_str()
        .expect("shown once")
        .to_owned();
    assert_eq!(r.body["client"]["origin"], "admin");
    assert_eq!(r.body["client"]["auth_method"], "client_secret");

    // Never shown again, by the item or the list.
    let one = admin
        .call("GET", "/clients/sales-copilot", None, None)
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.etag.as_deref(), Some("\"v1\""));
    let list = admin.call("GET", "/clients", None, None).await;
    for body in [&one.body, &list.body] {
        assert!(!body.to_string().contains(&secret));
    }
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == "sales-copilot")
    );

    // Honoured at once: alice signs in through it, and its exchange reaches the
    // gate (no connection yet: a pending request for an approver).
    let creds = agent::ClientCreds {
        client_id: "sales-copilot".into(),
        client_secret: secret.clone(),
    };
    let s = agent::sign_in(
        &agent::http_client(),
        &d.info.idp,
        &creds,
        demo::REDIRECT_URI,
        &user(&d.info, "alice"),
        &Default::default(),
    )
    .await
    .expect("sign-in through the new client");
    let e = expect_oauth(
        agent::exchange(
            &agent::http_client(),
            &d.info.idp,
            &creds,
            &s.id_token,
            &agent::ExchangeRequest {
                audience: &d.info.app("crm").issuer,
                resource: None,
                scope: Some("crm.deals.read"),
            },
        )
        .await,
        ErrorCode::AccessDenied,
    );
    assert!(e.connection_request_id.is_some());

    // Refusals: a taken id, an unknown or deactivated owner, a private key, bad URIs.
    let again = admin
        .call(
            "POST",
            "/clients",
            None,
            Some(register_body(json!(["alice"]))),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let mut b = register_body(json!(["mallory"]));
    b["client_id"] = json!("other-copilot");
    let r = admin.call("POST", "/clients", None, Some(b)).await;
    assert_eq!(r.status, 422);
    assert!(r.body.to_string().contains("mallory"), "{}", r.body);
    let key = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    let mut private = serde_json::to_value(key.public_jwk()).unwrap();
    private["d"] = json!("c2VjcmV0");
    let mut b = register_body(json!(["alice"]));
    b["client_id"] = json!("keyed-copilot");
    b["credential"] = json!({ "method": "private_key_jwt", "jwks": { "keys": [private] } });
    let r = admin.call("POST", "/clients", None, Some(b.clone())).await;
    assert_eq!(r.status, 422);
    assert!(r.body.to_string().contains("private key"), "{}", r.body);
    b["credential"]["jwks"] = json!({ "keys": [key.public_jwk()] });
    let r = admin.call("POST", "/clients", None, Some(b)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body["client_secret"].is_null(),
        "no secret for private_key_jwt"
    );
    let mut b = register_body(json!(["alice"]));
    b["client_id"] = json!("frag-copilot");
    b["redirect_uris"] = json!(["https://app.example/cb#x"]);
    assert_eq!(
        admin.call("POST", "/clients", None, Some(b)).await.status,
        422
    );

    // Only an admin registers.
    let approver = Admin {
        token: admin_token(&d.info, "carol", false).await,
        ..Admin::new(&d, false).await
    };
    let mut b = register_body(json!(["alice"]));
    b["client_id"] = json!("sneaky-copilot");
    assert_eq!(
        approver
            .call("POST", "/clients", None, Some(b))
            .await
            .status,
        403
    );

    // The audit log says who registered what, and holds no secret.
    let audit = admin
        .call("GET", "/audit?kind=client.registered", None, None)
        .await;
    let items = audit.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", audit.body);
    assert!(items.iter().all(|e| e["actor"] == "judy"));
    assert!(!audit.body.to_string().contains(&secret));
}

#[tokio::test]
async fn a_rotated_secret_overlaps_then_lapses_and_writes_need_the_current_etag() {
    let d = start_demo().await;
    let admin = Admin::new(&d, false).await;
    let r = admin
        .call(
            "POST",
            "/clients",
            None,
            Some(register_body(json!(["alice"]))),
        )
        .await;
    let old = r.body["client_secret"].as_str().unwrap().to_owned();
    // A stale or missing If-Match changes nothing.
    let body = json!({ "overlap": 3600 });
    let r = admin
        .call(
            "POST",
            "/clients/sales-copilot/secret",
            Some("\"v7\""),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    let r = admin
        .call(
            "POST",
            "/clients/sales-copilot/secret",
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 428);
    let r = admin
        .call(
            "POST",
            "/clients/sales-copilot/secret",
            Some("\"v1\""),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.etag.as_deref(), Some("\"v2\""));
    let new = r.body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(r.body["client"]["previous_secret_until"].as_i64().is_some());
    assert!(authenticates(&d, "sales-copilot", &new).await);
    assert!(
        authenticates(&d, "sales-copilot", &old).await,
        "the overlap"
    );
    d.idp.advance_clock(3601);
    assert!(authenticates(&d, "sales-copilot", &new).await);
    assert!(
        !authenticates(&d, "sales-copilot", &old).await,
        "the overlap ended"
    );
    // (The admin's session lapsed with the clock: a fresh one.)
    let admin = Admin::new(&d, false).await;
    // An edit at the current version.
    let r = admin
        .call(
            "PATCH",
            "/clients/sales-copilot",
            Some("\"v2\""),
            Some(json!({ "name": "Sales Copilot 2", "owners": ["alice", "grace"] })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Sales Copilot 2");
    assert_eq!(r.body["owners"], json!(["alice", "grace"]));
    // A config-seeded client is edited the same way; the console's own is not.
    let r = admin.call("GET", "/clients/code-agent", None, None).await;
    assert_eq!(r.body["origin"], "config");
    let v = r.etag.unwrap();
    let r = admin
        .call(
            "PATCH",
            "/clients/code-agent",
            Some(&v),
            Some(json!({ "description": "Edited at run time" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = admin
        .call("GET", "/clients/gatehouse-console", None, None)
        .await;
    let v = r.etag.unwrap();
    let r = admin
        .call(
            "PATCH",
            "/clients/gatehouse-console",
            Some(&v),
            Some(json!({ "name": "Mine" })),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test]
async fn a_retired_client_is_refused_everywhere_and_its_connections_are_revoked() {
    let d = start_demo().await;
    let i = &d.info;
    // code-agent (seeded from the config) has live connections and works.
    let s = sign_in(i, "alice", "code-agent", false).await;
    exchange(i, "code-agent", &s.id_token, "docs", Some("docs.read"))
        .await
        .expect("works before");
    let plain = Admin::new(&d, false).await;
    let v = plain
        .call("GET", "/clients/code-agent", None, None)
        .await
        .etag
        .unwrap();
    let body = json!({ "reason": "replaced by the new IDE agent" });
    // Retiring revokes connections: it needs a recent MFA sign-in, like the kill switch.
    let r = plain
        .call(
            "POST",
            "/clients/code-agent/retire",
            Some(&v),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let admin = Admin::new(&d, true).await;
    let r = admin
        .call(
            "POST",
            "/clients/code-agent/retire",
            Some(&v),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["retired_at"].as_i64().is_some());
    // Refused at the token endpoint and at /authorize; gone from the list.
    let e = expect_oauth(
        exchange(i, "code-agent", &s.id_token, "docs", Some("docs.read")).await,
        ErrorCode::InvalidClient,
    );
    assert!(e.error_description.is_some());
    let page = reqwest::get(format!(
        "{}/authorize?client_id=code-agent&redirect_uri={}&response_type=code&scope=openid&code_challenge=x&code_challenge_method=S256",
        i.idp,
        url::form_urlencoded::byte_serialize(demo::REDIRECT_URI.as_bytes()).collect::<String>()
    ))
    .await
    .unwrap();
    assert_eq!(page.status(), 400);
    let list = admin.call("GET", "/clients", None, None).await;
    assert!(
        !list
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == "code-agent")
    );
    // Its connections were revoked (receivers get their events).
    let conns = admin
        .call(
            "GET",
            "/connections?client_id=code-agent&status=active",
            None,
            None,
        )
        .await;
    assert_eq!(conns.body["total"], 0, "{}", conns.body);
    // Retiring again is a conflict; the id stays taken.
    let v = admin
        .call("GET", "/clients/code-agent", None, None)
        .await
        .etag
        .unwrap();
    let r = admin
        .call("POST", "/clients/code-agent/retire", Some(&v), Some(body))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let mut b = register_body(json!(["alice"]));
    b["client_id"] = json!("code-agent");
    assert_eq!(
        admin.call("POST", "/clients", None, Some(b)).await.status,
        409
    );
    // A restart does not bring it back from the config file: the store is the truth.
    let again = idp::registry::Registry::default();
    idp::registry::seed(
        &d.idp.store,
        &d.idp.config.clients,
        &d.idp.config.resource_apps,
        0,
    )
    .await
    .unwrap();
    again.reload(&d.idp.store).await.unwrap();
    assert!(again.get().client("code-agent").is_none());
}

fn app_body() -> Value {
    json!({
        "id": "wiki",
        "name": "Team Wiki",
        "issuer": "https://wiki-as.example",
        "mcp_servers": ["https://wiki.example/mcp"],
        "scopes": [
            { "name": "wiki.read", "description": "Read pages", "risk": "read", "sensitive": false },
            { "name": "wiki.write", "description": "Edit pages", "risk": "write", "sensitive": false },
        ],
        "receivers": [],
        "owners": ["alice"],
    })
}

#[tokio::test]
async fn a_registered_resource_app_is_an_audience_at_once_and_its_catalogue_is_guarded() {
    let d = start_demo().await;
    let i = &d.info;
    let admin = Admin::new(&d, false).await;
    let r = admin
        .call("POST", "/resource-apps", None, Some(app_body()))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.etag.as_deref(), Some("\"v1\""));
    assert_eq!(r.body["origin"], "admin");
    // An audience at once: an exchange for it reaches the gate (no connection:
    // a pending request naming the new app and its scope).
    let s = sign_in(i, "alice", "code-agent", false).await;
    let e = expect_oauth(
        agent::exchange(
            &agent::http_client(),
            &i.idp,
            &client(i, "code-agent"),
            &s.id_token,
            &agent::ExchangeRequest {
                audience: "https://wiki-as.example",
                resource: Some("https://wiki.example/mcp"),
                scope: Some("wiki.read"),
            },
        )
        .await,
        ErrorCode::AccessDenied,
    );
    let request_id = e.connection_request_id.expect("a pending request");
    let req = admin
        .call(
            "GET",
            &format!("/connection-requests/{request_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(req.body["resource_app"]["id"], "wiki", "{}", req.body);
    // Refusals: a taken id or issuer, a bad URL, a duplicate scope.
    assert_eq!(
        admin
            .call("POST", "/resource-apps", None, Some(app_body()))
            .await
            .status,
        409
    );
    let mut b = app_body();
    b["id"] = json!("wiki2");
    assert_eq!(
        admin
            .call("POST", "/resource-apps", None, Some(b.clone()))
            .await
            .status,
        409,
        "same issuer"
    );
    b["issuer"] = json!("http://wiki2.example");
    assert_eq!(
        admin
            .call("POST", "/resource-apps", None, Some(b.clone()))
            .await
            .status,
        422,
        "http off loopback"
    );
    b["issuer"] = json!("https://wiki2.example");
    b["scopes"] = json!([{ "name": "a", "description": "", "risk": "read", "sensitive": false }, { "name": "a", "description": "", "risk": "read", "sensitive": false }]);
    assert_eq!(
        admin
            .call("POST", "/resource-apps", None, Some(b))
            .await
            .status,
        422
    );

    // docs (seeded) grants docs.read to live connections: dropping it from the
    // catalogue is refused; making docs.share sensitive is taken.
    let docs = admin.call("GET", "/resource-apps/docs", None, None).await;
    let v = docs.etag.unwrap();
    let mut scopes: Vec<Value> = docs.body["scopes"].as_array().unwrap().clone();
    let without_read: Vec<Value> = scopes
        .iter()
        .filter(|s| s["name"] != "docs.read")
        .cloned()
        .collect();
    let r = admin
        .call(
            "PATCH",
            "/resource-apps/docs",
            Some(&v),
            Some(json!({ "scopes": without_read })),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.to_string().contains("docs.read"));
    for s in scopes.iter_mut().filter(|s| s["name"] == "docs.share") {
        s["sensitive"] = json!(true);
    }
    let r = admin
        .call(
            "PATCH",
            "/resource-apps/docs",
            Some(&v),
            Some(json!({ "scopes": scopes })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let share = r.body["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "docs.share")
        .unwrap()
        .clone();
    assert_eq!(share["sensitive"], true);
    // The issuer is not editable.
    let v = r.etag.unwrap();
    let r = admin
        .call(
            "PATCH",
            "/resource-apps/docs",
            Some(&v),
            Some(json!({ "issuer": "https://elsewhere.example" })),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Retiring (recent MFA): connections revoked, no audience any more.
    let admin = Admin::new(&d, true).await;
    let v = admin
        .call("GET", "/resource-apps/docs", None, None)
        .await
        .etag
        .unwrap();
    let r = admin
        .call(
            "POST",
            "/resource-apps/docs/retire",
            Some(&v),
            Some(json!({ "reason": "moved to the wiki" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    expect_oauth(
        exchange(i, "code-agent", &s.id_token, "docs", Some("docs.read")).await,
        ErrorCode::InvalidTarget,
    );
    let conns = admin
        .call(
            "GET",
            "/connections?resource_app=docs&status=active",
            None,
            None,
        )
        .await;
    assert_eq!(conns.body["total"], 0, "{}", conns.body);
    let list = admin.call("GET", "/resource-apps", None, None).await;
    assert!(
        !list
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == "docs")
    );
    let audit = admin
        .call("GET", "/audit?kind=resource_app.retired", None, None)
        .await;
    assert_eq!(audit.body["items"][0]["reason"], "moved to the wiki");
}

/// The pending re-approvals of `app`, as (request id, ETag, body).
async fn reapprovals(admin: &Admin, app: &str) -> Vec<(String, String, Value)> {
    let list = admin
        .call(
            "GET",
            &format!("/connection-requests?status=pending&resource_app={app}"),
            None,
            None,
        )
        .await;
    let mut out = Vec::new();
    for r in list.body["items"].as_array().unwrap() {
        if r["reapproval"].is_null() {
            continue;
        }
        let id = r["id"].as_str().unwrap().to_owned();
        let one = admin
            .call("GET", &format!("/connection-requests/{id}"), None, None)
            .await;
        out.push((id, one.etag.unwrap(), one.body));
    }
    out
}

#[tokio::test]
async fn a_riskier_scope_puts_its_connections_up_for_reapproval_and_they_work_until_decided() {
    let d = start_demo().await;
    let i = &d.info;
    let admin = Admin::new(&d, false).await;
    let docs = admin.call("GET", "/resource-apps/docs", None, None).await;
    let mut scopes: Vec<Value> = docs.body["scopes"].as_array().unwrap().clone();
    for s in scopes.iter_mut().filter(|s| s["name"] == "docs.write") {
        s["risk"] = json!("destructive");
    }
    let r = admin
        .call(
            "PATCH",
            "/resource-apps/docs",
            Some(&docs.etag.unwrap()),
            Some(json!({ "scopes": scopes })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // code-agent's docs connection grants docs.write: up for re-approval, with what changed.
    let pending = reapprovals(&admin, "docs").await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let (id, etag, body) = &pending[0];
    assert_eq!(body["client"]["client_id"], "code-agent");
    let change = &body["reapproval"]["changes"][0];
    assert_eq!(
        (
            change["scope"].as_str(),
            change["risk_before"].as_str(),
            change["risk_after"].as_str()
        ),
        (Some("docs.write"), Some("write"), Some("destructive"))
    );
    let connection_id = body["reapproval"]["connection_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        body["justification"]
            .as_str()
            .unwrap()
            .contains("docs.write")
    );
    // It keeps working at the approved grant meanwhile.
    let s = sign_in(i, "alice", "code-agent", false).await;
    exchange(i, "code-agent", &s.id_token, "docs", Some("docs.write"))
        .await
        .expect("works until an approver decides");
    // Denied: the connection is revoked at once, its receivers told.
    let carol = Admin {
        token: admin_token(i, "carol", false).await,
        ..Admin::new(&d, false).await
    };
    let r = carol
        .call(
            "POST",
            &format!("/connection-requests/{id}/deny"),
            Some(etag),
            Some(json!({ "reason": "destructive writes need a new review" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let conn = admin
        .call("GET", &format!("/connections/{connection_id}"), None, None)
        .await;
    assert_eq!(conn.body["status"], "revoked", "{}", conn.body);
    expect_oauth(
        exchange(i, "code-agent", &s.id_token, "docs", Some("docs.write")).await,
        ErrorCode::AccessDenied,
    );

    // tickets: a read scope becoming write; approving confirms the connection as it is.
    let tickets = admin
        .call("GET", "/resource-apps/tickets", None, None)
        .await;
    let mut scopes: Vec<Value> = tickets.body["scopes"].as_array().unwrap().clone();
    for s in scopes.iter_mut().filter(|s| s["name"] == "tickets.read") {
        s["risk"] = json!("write");
    }
    let r = admin
        .call(
            "PATCH",
            "/resource-apps/tickets",
            Some(&tickets.etag.unwrap()),
            Some(json!({ "scopes": scopes })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pending = reapprovals(&admin, "tickets").await;
    assert!(
        !pending.is_empty(),
        "a connection granting tickets.read is up for re-approval"
    );
    let (id, etag, body) = &pending[0];
    let connection_id = body["reapproval"]["connection_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = admin
        .call("GET", &format!("/connections/{connection_id}"), None, None)
        .await;
    let r = carol
        .call(
            "POST",
            &format!("/connection-requests/{id}/approve"),
            Some(etag),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["request"]["status"], "approved");
    let after = admin
        .call("GET", &format!("/connections/{connection_id}"), None, None)
        .await;
    assert_eq!(after.body["status"], "active");
    assert_eq!(
        after.body["scopes"], before.body["scopes"],
        "confirmed as it was"
    );
    assert_eq!(after.body["allowed_groups"], before.body["allowed_groups"]);
}

#[tokio::test]
async fn a_private_key_jwt_client_with_a_jwks_url_rotates_its_keys_without_an_admin() {
    use axum::{Json, Router, extract::State, routing::get};
    use std::sync::{Arc, Mutex};
    let d = start_demo().await;
    let admin = Admin::new(&d, false).await;
    // The client's own JWKS, served by it (here: by the test).
    let keys: Arc<Mutex<Vec<xaa::Jwk>>> = Arc::default();
    let first = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    keys.lock().unwrap().push(first.public_jwk());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
    let app = Router::new()
        .route(
            "/jwks",
            get(|State(k): State<Arc<Mutex<Vec<xaa::Jwk>>>>| async move {
                Json(xaa::JwkSet {
                    keys: k.lock().unwrap().clone(),
                })
            }),
        )
        .with_state(keys.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut b = register_body(json!(["alice"]));
    b["client_id"] = json!("keyed-agent");
    b["credential"] = json!({ "method": "private_key_jwt", "jwks_uri": jwks_uri });
    let r = admin.call("POST", "/clients", None, Some(b)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body["client_secret"].is_null());
    // An assertion signed by the published key authenticates (filing a request).
    let file = |key: &xaa::SigningKey, jti: &str| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let assertion = key.sign(
            "JWT",
            &json!({"iss": "keyed-agent", "sub": "keyed-agent", "aud": d.info.idp, "jti": jti, "exp": now + 60, "iat": now}),
        );
        let idp = d.info.idp.clone();
        let docs = d.info.app("docs").issuer.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{idp}/connection-requests"))
                .form(&[
                    ("audience", docs.as_str()),
                    ("justification", "needs docs"),
                    ("client_assertion_type", xaa::CLIENT_ASSERTION_TYPE_JWT),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(file(&first, "a1").await, 201);
    let stranger = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    assert_eq!(
        file(&stranger, "a2").await,
        401,
        "a key the client never published"
    );
    // The client rotates by publishing a new key: honoured after one refetch
    // (at most every 10 s), with no admin involved.
    let second = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    keys.lock().unwrap().push(second.public_jwk());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut n = 0;
    loop {
        n += 1;
        if file(&second, &format!("b{n}")).await == 201 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new key was never fetched"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_jwks_url_is_read_at_registration_and_refused_when_it_is_unusable() {
    use axum::{Json, Router, routing::get};
    let d = start_demo().await;
    let admin = Admin::new(&d, false).await;
    // Nothing listens there.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_uri = format!("http://{}/jwks", dead.local_addr().unwrap());
    drop(dead);
    // A server that publishes its private key with the public one.
    let key = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    let mut private = serde_json::to_value(key.public_jwk()).unwrap();
    private["d"] = json!("c2VjcmV0LXNjYWxhcg");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route(
            "/private",
            get(move || async move { Json(json!({ "keys": [private] })) }),
        )
        .route("/empty", get(|| async { Json(json!({ "keys": [] })) }))
        .route("/html", get(|| async { "<html>not a key set</html>" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    for (uri, says) in [
        (dead_uri, "could not be read"),
        (format!("{base}/missing"), "HTTP 404"),
        (format!("{base}/html"), "not the JSON expected"),
        (format!("{base}/private"), "private key"),
        (format!("{base}/empty"), "1 to 10 public"),
    ] {
        let mut b = register_body(json!(["alice"]));
        b["client_id"] = json!("keyed-agent");
        b["credential"] = json!({ "method": "private_key_jwt", "jwks_uri": uri });
        let r = admin.call("POST", "/clients", None, Some(b)).await;
        assert_eq!(r.status, 422, "{uri}: {}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap_or("").contains(says),
            "{uri}: {}",
            r.body
        );
        let got = admin.call("GET", "/clients/keyed-agent", None, None).await;
        assert_eq!(got.status, 404, "nothing registered for {uri}");
    }
}
