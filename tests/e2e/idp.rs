//! The IdP's own surface over HTTP: the audit chain, sign-in and tokens (PKCE,
//! code reuse, refresh rotation and reuse detection, TOTP replay), client-filed
//! connection requests and `private_key_jwt`.

use gatehouse_tests::*;
use serde_json::{Value, json};
use xaa::{ErrorCode, util};

#[tokio::test]
async fn the_audit_chain_verifies_holds_no_token_and_breaks_when_a_row_is_edited() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "grace", "support-copilot", false).await;
    let jag = exchange(i, "support-copilot", &s.id_token, "tickets", None)
        .await
        .unwrap();
    let denied = exchange(
        i,
        "research-assistant",
        &sign_in(i, "alice", "research-assistant", false)
            .await
            .id_token,
        "ledger",
        None,
    )
    .await;
    expect_oauth(denied, ErrorCode::AccessDenied);

    let pool = d.idp.store.pool();
    let report = d.idp.store.verify_audit().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert!(
        report.events >= 4,
        "logins and exchanges are audited: {report:?}"
    );
    let issued = d
        .idp
        .store
        .audit_events(Some("id_jag.exchange"), 100)
        .await
        .unwrap();
    assert_eq!(
        issued
            .iter()
            .filter(|e| e.event.outcome == "success")
            .count(),
        1
    );
    let refused = issued
        .iter()
        .find(|e| e.event.outcome == "refused")
        .expect("refusal audited");
    assert!(refused.event.detail["connection_request_id"].is_string());

    // No token is anywhere in the audit log.
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT detail || coalesce(reason,'') || coalesce(target,'') FROM audit_events",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let all = rows.join("\n");
    for secret in [
        &s.id_token,
        &s.access_token,
        s.refresh_token.as_ref().unwrap(),
        &jag.access_token,
    ] {
        assert!(
            !all.contains(secret.as_str()),
            "a token leaked into the audit log"
        );
        let sig = secret.rsplit('.').next().unwrap();
        assert!(!all.contains(sig));
    }

    // Edit one row directly in the SQLite file: verify names it.
    sqlx::query("UPDATE audit_events SET subject = 'mallory' WHERE seq = 2")
        .execute(pool)
        .await
        .unwrap();
    let report = d.idp.store.verify_audit().await.unwrap();
    assert_eq!(report.first_broken, Some(2));
    // Deleting a row is caught too (sequence gap / broken link).
    sqlx::query("UPDATE audit_events SET subject = (SELECT subject FROM audit_events WHERE seq = 1) WHERE seq = 2").execute(pool).await.unwrap();
    sqlx::query("DELETE FROM audit_events WHERE seq = 3")
        .execute(pool)
        .await
        .unwrap();
    let report = d.idp.store.verify_audit().await.unwrap();
    assert!(report.first_broken.is_some());
}

fn token_url(d: &Demo) -> String {
    format!("{}/token", d.info.idp)
}

async fn post(url: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
    let mut r = reqwest::Client::new().post(url).form(form);
    if let Some((u, p)) = basic {
        r = r.basic_auth(u, Some(p));
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_revokes_the_family() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "alice", "code-agent", false).await;
    let c = i.client("code-agent");
    let basic = Some((c.client_id.as_str(), c.client_secret.as_str()));
    let rt1 = s.refresh_token.clone().unwrap();
    let (st, body) = post(
        &token_url(&d),
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
        basic,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let rt2 = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    // Reuse of the rotated token: refused, and the whole family (rt2 too) is revoked.
    let (st, body) = post(
        &token_url(&d),
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
        basic,
    )
    .await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_grant")));
    let (st, _) = post(
        &token_url(&d),
        &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
        basic,
    )
    .await;
    assert_eq!(st, 400, "the family is revoked");
    // Another client cannot use this client's refresh token.
    let s2 = sign_in(i, "alice", "code-agent", false).await;
    let other = i.client("support-copilot");
    let (st, _) = post(
        &token_url(&d),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", s2.refresh_token.as_deref().unwrap()),
        ],
        Some((&other.client_id, &other.client_secret)),
    )
    .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn a_refresh_token_is_accepted_as_subject_token() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "grace", "support-copilot", false).await;
    let c = i.client("support-copilot");
    let a = i.app("tickets");
    let (st, body) = post(
        &token_url(&d),
        &[
            ("grant_type", xaa::GRANT_TOKEN_EXCHANGE),
            ("requested_token_type", xaa::TOKEN_TYPE_ID_JAG),
            ("subject_token_type", xaa::TOKEN_TYPE_REFRESH_TOKEN),
            ("subject_token", s.refresh_token.as_deref().unwrap()),
            ("audience", &a.issuer),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
        ],
        None,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["sub"],
        "grace"
    );
    let exchange_with = |refresh: String, client: &'static str| {
        let (url, aud) = (token_url(&d), a.issuer.clone());
        let c = i.client(client).clone();
        async move {
            post(
                &url,
                &[
                    ("grant_type", xaa::GRANT_TOKEN_EXCHANGE),
                    ("requested_token_type", xaa::TOKEN_TYPE_ID_JAG),
                    ("subject_token_type", xaa::TOKEN_TYPE_REFRESH_TOKEN),
                    ("subject_token", &refresh),
                    ("audience", &aud),
                    ("client_id", &c.client_id),
                    ("client_secret", &c.client_secret),
                ],
                None,
            )
            .await
        }
    };
    // A token of another purpose under the refresh-token type: the ID token,
    // and the access token, of the same sign-in are not refresh tokens.
    for other in [s.id_token.clone(), s.access_token.clone()] {
        let (st, body) = exchange_with(other, "support-copilot").await;
        assert_eq!(
            (st, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
    }
    // Presenting it does not rotate it: the same refresh token works again.
    let rt = s.refresh_token.clone().unwrap();
    assert_eq!(exchange_with(rt.clone(), "support-copilot").await.0, 200);
    // Another client's refresh token is not this client's subject.
    let other = sign_in(i, "grace", "code-agent", false).await;
    let (st, body) = exchange_with(other.refresh_token.clone().unwrap(), "support-copilot").await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // Rotated by a refresh grant: the old one is refused as a subject token.
    let (st, rotated) = post(
        &token_url(&d),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
        ],
        None,
    )
    .await;
    assert_eq!(st, 200, "{rotated}");
    let (st, body) = exchange_with(rt.clone(), "support-copilot").await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // Revoked (RFC 7009): refused too.
    let new_rt = rotated["refresh_token"].as_str().unwrap().to_owned();
    let r = reqwest::Client::new()
        .post(format!("{}/revoke", i.idp))
        .form(&[
            ("token", new_rt.as_str()),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, body) = exchange_with(new_rt, "support-copilot").await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

/// Walks the login form by hand, returning the code.
async fn code_for(
    d: &Demo,
    client: &str,
    challenge: &str,
    user: &str,
    totp: Option<String>,
) -> Result<String, String> {
    let http = agent::http_client();
    let u = d.info.user(user);
    let mut form = vec![
        ("response_type", "code".to_string()),
        ("client_id", client.to_string()),
        ("redirect_uri", demo::REDIRECT_URI.to_string()),
        ("scope", "openid".to_string()),
        ("state", "s".to_string()),
        ("code_challenge", challenge.to_string()),
        ("code_challenge_method", "S256".to_string()),
        ("username", user.to_string()),
        ("password", u.password.clone()),
    ];
    if let Some(t) = totp {
        form.push(("totp", t));
    }
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_login_form(&http, &d.info.idp, &fields).await;
    let status = r.status();
    let Some(loc) = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
    else {
        return Err(format!("{status}: {}", r.text().await.unwrap()));
    };
    let url = url_parse(&loc);
    Ok(url
        .into_iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v)
        .unwrap())
}

fn url_parse(u: &str) -> Vec<(String, String)> {
    let q = u.split_once('?').map(|x| x.1).unwrap_or("");
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%2F", "/").replace("%3A", ":")))
        .collect()
}

#[tokio::test]
async fn pkce_is_required_and_a_code_is_single_use() {
    let d = start_demo().await;
    let c = d.info.client("code-agent");
    let basic = Some((c.client_id.as_str(), c.client_secret.as_str()));
    let verifier = util::random_token(32);
    let code = code_for(&d, "code-agent", &util::pkce_s256(&verifier), "alice", None)
        .await
        .unwrap();
    let redeem = |v: String| {
        let code = code.clone();
        let url = token_url(&d);
        async move {
            post(
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", demo::REDIRECT_URI),
                    ("code_verifier", &v),
                ],
                basic,
            )
            .await
        }
    };
    let (st, body) = redeem("wrong-verifier-wrong-verifier-wrong-verifier".into()).await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("PKCE"));
    // The failed attempt used the code up; the right verifier now finds it used.
    let (st, body) = redeem(verifier.clone()).await;
    assert_eq!(st, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );

    let verifier = util::random_token(32);
    let code2 = code_for(&d, "code-agent", &util::pkce_s256(&verifier), "alice", None)
        .await
        .unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code2.as_str()),
        ("redirect_uri", demo::REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    let (st, first) = post(&token_url(&d), &form, basic).await;
    assert_eq!(st, 200, "{first}");
    let (st, _) = post(&token_url(&d), &form, basic).await;
    assert_eq!(st, 400, "a code is single use");
    // Reuse revoked what the code produced.
    let rt = first["refresh_token"].as_str().unwrap();
    let (st, _) = post(
        &token_url(&d),
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        basic,
    )
    .await;
    assert_eq!(st, 400, "tokens from a replayed code are revoked");
}

#[tokio::test]
async fn the_login_form_refuses_bad_passwords_and_replayed_totp_codes() {
    let d = start_demo().await;
    let http = agent::http_client();
    let r = post_login_form(
        &http,
        &d.info.idp,
        &[
            ("response_type", "code"),
            ("client_id", "code-agent"),
            ("redirect_uri", demo::REDIRECT_URI),
            ("scope", "openid"),
            ("code_challenge", "x"),
            ("code_challenge_method", "S256"),
            ("username", "alice"),
            ("password", "not-her-password"),
        ],
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("username or password is wrong")
    );

    let secret = d.info.user("carol").totp_secret.clone().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = xaa::totp::code(&secret, now).unwrap();
    code_for(&d, "code-agent", "challenge", "carol", Some(code.clone()))
        .await
        .expect("first use of the code");
    let again = code_for(&d, "code-agent", "challenge", "carol", Some(code))
        .await
        .unwrap_err();
    assert!(again.contains("already used"), "{again}");
    let wrong = code_for(
        &d,
        "code-agent",
        "challenge",
        "carol",
        Some("000000".into()),
    )
    .await;
    // 000000 could be the real code one time in a million; only then would this pass trivially.
    if let Err(e) = wrong {
        assert!(
            e.contains("authenticator code is wrong") || e.contains("already used"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect() {
    let d = start_demo().await;
    let r = agent::http_client()
        .get(format!("{}/authorize", d.info.idp))
        .query(&[
            ("response_type", "code"),
            ("client_id", "code-agent"),
            ("redirect_uri", "https://evil.example/cb"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // Without PKCE, the error goes back to the (registered) client.
    let r = agent::http_client()
        .get(format!("{}/authorize", d.info.idp))
        .query(&[
            ("response_type", "code"),
            ("client_id", "code-agent"),
            ("redirect_uri", demo::REDIRECT_URI),
            ("scope", "openid"),
            ("state", "st"),
        ])
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        loc.starts_with(demo::REDIRECT_URI)
            && loc.contains("error=invalid_request")
            && loc.contains("state=st"),
        "{loc}"
    );
}

#[tokio::test]
async fn a_client_files_a_connection_request_with_a_justification() {
    let d = start_demo().await;
    let i = &d.info;
    let s = sign_in(i, "erin", "finance-analyst", false).await;
    let r = agent::file_request(
        &agent::http_client(),
        &i.idp,
        &client(i, "finance-analyst"),
        &i.app("crm").issuer,
        Some("crm.deals.read"),
        "Forecast revenue from the pipeline",
        Some(&s.id_token),
    )
    .await
    .expect("filed");
    assert_eq!(r["status"], "pending");
    assert_eq!(r["justification"], "Forecast revenue from the pipeline");
    assert_eq!(r["scopes"], json!(["crm.deals.read"]));
    assert_eq!(r["users"][0]["username"], "erin");
    assert_eq!(r["refused_count"], 0);
    // An unknown scope is refused precisely.
    let bad = agent::file_request(
        &agent::http_client(),
        &i.idp,
        &client(i, "finance-analyst"),
        &i.app("crm").issuer,
        Some("crm.everything"),
        "x",
        None,
    )
    .await;
    let e = expect_oauth(bad, ErrorCode::InvalidScope);
    assert!(e.error_description.unwrap().contains("crm.everything"));
}

#[tokio::test]
async fn private_key_jwt_clients_authenticate_with_a_single_use_assertion() {
    use idp::config::*;
    let dir = tempfile::tempdir().unwrap();
    let key = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        issuer: issuer.clone(),
        listen: String::new(),
        metrics_listen: None,
        database: Database::from(dir.path().join("idp.sqlite").as_path()),
        tokens: TokenLifetimes::default(),
        server: Default::default(),
        users: vec![],
        clients: vec![Client {
            client_id: "pkjwt-agent".into(),
            name: "Key Agent".into(),
            auth: ClientAuth::PrivateKeyJwt {
                jwks: xaa::JwkSet {
                    keys: vec![key.public_jwk()],
                },
                jwks_uri: None,
            },
            redirect_uris: vec![],
            owners: vec![],
            description: None,
            sponsor: None,
            successors: vec![],
            admin: false,
        }],
        resource_apps: vec![ResourceApp {
            id: "docs".into(),
            name: "Docs".into(),
            issuer: "https://docs.example".into(),
            mcp_servers: vec!["https://docs.example/mcp".into()],
            client_ids: Default::default(),
            scopes: vec![ScopeDef {
                name: "docs.read".into(),
                description: "read".into(),
                risk: Risk::Read,
                sensitive: false,
            }],
            receivers: vec![],
            owners: vec![],
        }],
        connections: vec![],
        roles: Default::default(),
        scim: Default::default(),
        trusted_issuers: vec![],
        upstreams: vec![],
        sign_in: Default::default(),
        audit_streams: vec![],
    };
    let state = idp::server::build(config).await.unwrap();
    tokio::spawn(idp::server::serve(state, listener));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = key.sign("JWT", &json!({"iss": "pkjwt-agent", "sub": "pkjwt-agent", "aud": format!("{issuer}/token"), "jti": "a1", "exp": now + 60, "iat": now}));
    let form = |a: &str| {
        vec![
            ("audience".to_string(), "https://docs.example".to_string()),
            ("justification".to_string(), "needs docs".to_string()),
            (
                "client_assertion_type".to_string(),
                xaa::CLIENT_ASSERTION_TYPE_JWT.to_string(),
            ),
            ("client_assertion".to_string(), a.to_string()),
        ]
    };
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{issuer}/connection-requests"))
        .form(&form(&assertion))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{issuer}/connection-requests"))
        .form(&form(&assertion))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a replayed client assertion is refused");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let other = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    let forged = other.sign("JWT", &json!({"iss": "pkjwt-agent", "sub": "pkjwt-agent", "aud": issuer, "jti": "a2", "exp": now + 60}));
    let r = http
        .post(format!("{issuer}/connection-requests"))
        .form(&form(&forged))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "an assertion signed by another key is refused"
    );
}

#[tokio::test]
async fn the_demo_fleet_produces_usage_and_grows_the_pending_queue() {
    let d = start_demo().await;
    let admin = admin_session(&d.info, "carol", false).await;
    let pending = |a: admin_api::AdminClient| async move {
        a.list_requests(&gatehouse_tests::query(&[("status", "pending".into())]))
            .await
            .unwrap()
            .total
    };
    let before = pending(admin.clone()).await;
    let stats = demo::fleet::run(
        d.info.clone(),
        std::time::Duration::from_millis(1),
        Some(80),
    )
    .await;
    assert_eq!(stats.errors, 0, "{stats:?}");
    assert!(stats.granted > 0, "no granted exchange: {stats:?}");
    assert!(stats.refused > 0, "no refused exchange: {stats:?}");
    let after = pending(admin).await;
    assert!(after > before, "pending stayed at {before} after {stats:?}");
}

/// `/readyz` turns 503 while the database's schema is not the one this node
/// runs (here: a newer node's migration recorded), saying only that, and ready
/// again once it is; `/healthz` stays 200 throughout (the process is alive).
#[tokio::test]
async fn readiness_follows_the_schema_and_says_no_more_than_why() {
    let d = start_demo().await;
    let store = &d.idp.store;
    let bump = |from: i64, to: i64| async move {
        sqlx::query(idp::store::sql(
            store.backend(),
            "UPDATE _sqlx_migrations SET version = ? WHERE version = ?",
        ))
        .bind(to)
        .bind(from)
        .execute(store.pool())
        .await
        .unwrap();
    };
    let want: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    bump(want, 9999).await;
    let r = reqwest::get(&d.info.readyz).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ready": false, "reason": "the database schema is not the one this node runs"})
    );
    assert_eq!(reqwest::get(&d.info.healthz).await.unwrap().status(), 200);
    bump(9999, want).await;
    assert_eq!(reqwest::get(&d.info.readyz).await.unwrap().status(), 200);
}

/// Refused exchanges of one (client, app, user) and reason: rows written.
async fn refusal_rows(d: &Demo, client_id: &str, subject: &str) -> Vec<Value> {
    d.idp
        .store
        .audit_events(Some("id_jag.exchange"), 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.event.outcome == "refused"
                && e.event.client_id.as_deref() == Some(client_id)
                && e.event.subject.as_deref() == Some(subject)
        })
        .map(|e| e.event.detail)
        .collect()
}

#[tokio::test]
async fn a_flood_of_one_refused_exchange_is_counted_not_written_row_by_row() {
    let d = start_demo().await;
    let i = &d.info;
    let client_id = i.client("research-assistant").client_id.clone();
    let alice = sign_in(i, "alice", "research-assistant", false).await;
    const FLOOD: usize = 300;
    let started = std::time::Instant::now();
    let answers = futures_util::future::join_all(
        (0..FLOOD).map(|_| exchange(i, "research-assistant", &alice.id_token, "ledger", None)),
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    // Every refusal is answered precisely, all pointing at one pending request.
    let ids: std::collections::BTreeSet<String> = answers
        .into_iter()
        .map(|r| {
            expect_oauth(r, ErrorCode::AccessDenied)
                .connection_request_id
                .expect("the pending request's id")
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let request_id = ids.into_iter().next().unwrap();
    // Not a row per refusal: the first of each window in full, then one row a
    // window with the count (the flusher may have run while the flood went on).
    let rows = refusal_rows(&d, &client_id, "alice").await;
    let bound = 2 * (elapsed.ceil() as usize + 1);
    assert!(
        rows.len() <= bound,
        "{} rows for {FLOOD} refusals in {elapsed:.1}s",
        rows.len()
    );
    // Written at the window's end: every refusal is counted, in the log and on
    // the request an approver sees.
    idp::refusals::flush(&d.idp, true).await.unwrap();
    let rows = refusal_rows(&d, &client_id, "alice").await;
    let counted: i64 = rows
        .iter()
        .map(|r| r["repeats"].as_i64().unwrap_or(1))
        .sum();
    assert_eq!(counted, FLOOD as i64, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r["connection_request_id"] == request_id)
    );
    assert!(rows.iter().any(|r| r["repeats"].as_i64() > Some(0)));
    let req = d.idp.store.request(&request_id).await.unwrap().unwrap();
    assert_eq!(req.refused_count, FLOOD as i64);
    let user = req.users.iter().find(|u| u.username == "alice").unwrap();
    assert_eq!(user.refused_count, FLOOD as i64);
    assert!(d.idp.store.verify_audit().await.unwrap().ok());

    // Something new for an approver is never just counted: another user, or
    // a scope the request does not show yet, reaches the request at once.
    let bob = sign_in(i, "bob", "research-assistant", false).await;
    let r = exchange(
        i,
        "research-assistant",
        &bob.id_token,
        "ledger",
        Some("ledger.read"),
    )
    .await;
    assert_eq!(
        expect_oauth(r, ErrorCode::AccessDenied).connection_request_id,
        Some(request_id.clone())
    );
    let req = d.idp.store.request(&request_id).await.unwrap().unwrap();
    assert!(req.users.iter().any(|u| u.username == "bob"));
    assert!(
        req.scopes.iter().any(|s| s == "ledger.read"),
        "{:?}",
        req.scopes
    );
    let r = exchange(
        i,
        "research-assistant",
        &alice.id_token,
        "ledger",
        Some("ledger.read"),
    )
    .await;
    expect_oauth(r, ErrorCode::AccessDenied);
    assert_eq!(
        refusal_rows(&d, &client_id, "alice").await.len(),
        rows.len() + 1
    );
}

#[tokio::test]
async fn refusals_counted_but_not_yet_written_are_written_when_the_idp_is_stopped() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(binary("gatehouse-demo"))
        .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--data"])
        .arg(dir.path())
        // The SQLite file in `dir` is what is read back below (in the suite's
        // PostgreSQL pass too: the flush at stop is the same code on both).
        .env_remove("GATEHOUSE_POSTGRES")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: DemoInfo = serde_json::from_str(&line).expect("the demo's JSON line");
    let alice = sign_in(&info, "alice", "research-assistant", false).await;
    const REFUSALS: usize = 40;
    for _ in 0..REFUSALS {
        let r = exchange(&info, "research-assistant", &alice.id_token, "ledger", None).await;
        expect_oauth(r, ErrorCode::AccessDenied);
    }
    // SIGTERM (how systemd stops the unit) within the counting window.
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success(), "a clean stop on SIGTERM");
    let db = idp::store::Db::open(&idp::store::sqlite_url(&dir.path().join("idp.sqlite")))
        .await
        .unwrap();
    let counted: i64 = db
        .audit_events(Some("id_jag.exchange"), 100_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event.outcome == "refused" && e.event.subject.as_deref() == Some("alice"))
        .map(|e| e.event.detail["repeats"].as_i64().unwrap_or(1))
        .sum();
    assert_eq!(counted, REFUSALS as i64);
    assert!(db.verify_audit().await.unwrap().ok());
}
