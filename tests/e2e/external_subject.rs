//! Trusted external subject tokens over loopback: an AI app presents the
//! company IdP's ID token to the token exchange. The company IdP here is a
//! stand-in we run (discovery + JWKS over real HTTP) because each hostile token
//! must be signed by the *trusted* key; a real third-party provider's tokens
//! (oidc-provider) are exchanged in the federation test.

use axum::{Json, Router, extract::State, routing::get};
use gatehouse_tests::*;
use idp::config::TrustedIssuer;
use serde_json::{Value, json};
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};
use xaa::{Alg, ErrorCode, JwkSet, SigningKey};

/// The company's IdP as far as Gatehouse sees it: metadata and keys.
struct CorpIdp {
    issuer: String,
    keys: Mutex<Vec<Arc<SigningKey>>>,
    jwks_fetches: AtomicUsize,
}

impl CorpIdp {
    async fn start() -> Arc<CorpIdp> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let corp = Arc::new(CorpIdp {
            issuer: format!("http://{}/tenant-1/v2.0", listener.local_addr().unwrap()),
            keys: Mutex::new(vec![Arc::new(SigningKey::generate(Alg::RS256).unwrap())]),
            jwks_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route(
                "/tenant-1/v2.0/.well-known/openid-configuration",
                get(|State(c): State<Arc<CorpIdp>>| async move {
                    Json(json!({
                        "issuer": c.issuer,
                        "authorization_endpoint": format!("{}/authorize", c.issuer),
                        "token_endpoint": format!("{}/token", c.issuer),
                        "jwks_uri": format!("{}/keys", c.issuer),
                    }))
                }),
            )
            .route(
                "/tenant-1/v2.0/keys",
                get(|State(c): State<Arc<CorpIdp>>| async move {
                    c.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    let keys = c
                        .keys
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|k| k.public_jwk())
                        .collect();
                    Json(JwkSet { keys })
                }),
            )
            .with_state(corp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        corp
    }

    fn key(&self) -> Arc<SigningKey> {
        self.keys.lock().unwrap().last().unwrap().clone()
    }

    /// A token for `username` with audience `aud`, adjusted by `edit`.
    fn token(&self, aud: &str, username: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut c = self.claims(aud, username);
        edit(&mut c);
        self.key().sign("JWT", &c)
    }

    fn claims(&self, aud: &str, username: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer, "sub": format!("oid-{username}"), "aud": aud,
            "iat": now - 5, "exp": now + 600, "auth_time": now - 5,
            "preferred_username": username, "amr": ["pwd"],
        })
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn trusted(corp: &CorpIdp) -> TrustedIssuer {
    toml::from_str(&format!(
        r#"
issuer = "{}"
[clients]
"corp-code-agent" = "code-agent"
"corp-support-copilot" = "support-copilot"
"#,
        corp.issuer
    ))
    .unwrap()
}

async fn world(issuers: Vec<TrustedIssuer>) -> Demo {
    demo::start(demo::DemoOptions {
        trusted_issuers: issuers,
        ..Default::default()
    })
    .await
    .expect("demo stack starts")
}

fn described(e: xaa::OAuthError) -> String {
    e.error_description.unwrap_or_default()
}

#[tokio::test]
async fn a_trusted_issuers_id_token_is_exchanged_through_the_same_gate() {
    let corp = CorpIdp::start().await;
    let d = world(vec![trusted(&corp)]).await;
    let i = &d.info;
    let t = corp.token("corp-code-agent", "alice", |_| {});
    let jag = exchange(i, "code-agent", &t, "docs", Some("docs.read"))
        .await
        .expect("the company IdP's token is honoured for the mapped client");
    let c = claims(&jag.access_token);
    assert_eq!(c["iss"], i.idp, "the ID-JAG is Gatehouse's");
    assert_eq!(c["sub"], "alice", "the person is the directory's");
    assert_eq!(c["acr"], xaa::ACR_PASSWORD, "amr pwd is one factor");
    // The gate is the same: no connection for this pair → a pending request.
    let t = corp.token("corp-support-copilot", "alice", |_| {});
    let e = expect_oauth(
        exchange(i, "support-copilot", &t, "docs", Some("docs.admin")).await,
        ErrorCode::AccessDenied,
    );
    assert!(e.connection_request_id.is_some());
    // Step-up: one factor is refused with RFC 9470; a token proving MFA passes.
    let pwd = corp.token("corp-code-agent", "carol", |_| {});
    let e = expect_oauth(
        exchange(i, "code-agent", &pwd, "docs", Some("docs.admin")).await,
        ErrorCode::InsufficientUserAuthentication,
    );
    assert_eq!(e.acr_values.as_deref(), Some(xaa::ACR_MFA));
    let mfa = corp.token("corp-code-agent", "carol", |c| {
        c["amr"] = json!(["pwd", "mfa"])
    });
    let jag = exchange(i, "code-agent", &mfa, "docs", Some("docs.admin"))
        .await
        .expect("MFA proved by the company IdP's amr");
    assert_eq!(claims(&jag.access_token)["acr"], xaa::ACR_MFA);
    // The exchange is audited with the directory's person.
    assert_eq!(
        exchanges(i, Some("carol"), admin_api::AuditOutcome::Success).await,
        1
    );
}

/// How many token exchanges the audit log holds with this subject and outcome.
async fn exchanges(
    i: &demo::DemoInfo,
    subject: Option<&str>,
    outcome: admin_api::AuditOutcome,
) -> usize {
    let judy = admin_session(i, "judy", false).await;
    let mut q = vec![
        ("kind", "id_jag.exchange".to_string()),
        ("outcome", outcome.as_str().to_string()),
        ("limit", "500".to_string()),
    ];
    if let Some(s) = subject {
        q.push(("subject", s.to_string()));
    }
    judy.audit(&query(&q)).await.unwrap().items.len()
}

#[tokio::test]
async fn every_hostile_external_token_is_refused_precisely() {
    let corp = CorpIdp::start().await;
    let mut narrow = trusted(&corp);
    narrow.algorithms = vec!["RS256".into()];
    narrow.max_token_bytes = 4096;
    let d = world(vec![narrow]).await;
    let i = &d.info;
    let stranger = SigningKey::generate(Alg::RS256).unwrap();
    let ed = SigningKey::generate(Alg::EdDSA).unwrap();
    let es = SigningKey::generate(Alg::ES256).unwrap();
    // The issuer publishes an EdDSA key too; the allow-list still refuses EdDSA.
    let published = SigningKey::from_pkcs8(Alg::EdDSA, ed.kid().into(), ed.pkcs8_der()).unwrap();
    corp.keys.lock().unwrap().insert(0, Arc::new(published));
    let good = corp.claims("corp-code-agent", "alice");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        corp.key().sign("JWT", &c)
    };
    let unsigned = {
        let b = |v: &Value| base64_url(v.to_string().as_bytes());
        format!("{}.{}.", b(&json!({"alg": "none"})), b(&good))
    };
    let hs256 = {
        let b = |v: &Value| base64_url(v.to_string().as_bytes());
        format!(
            "{}.{}.c2ln",
            b(&json!({"alg": "HS256", "kid": corp.key().kid()})),
            b(&good)
        )
    };
    let cases: Vec<(&str, String, &str, ErrorCode, &str)> = vec![
        (
            "another client's audience",
            corp.token("corp-support-copilot", "alice", |_| {}),
            "code-agent",
            ErrorCode::InvalidGrant,
            "different client",
        ),
        (
            "an audience mapped to no client",
            corp.token("corp-other-app", "alice", |_| {}),
            "code-agent",
            ErrorCode::InvalidGrant,
            "different client",
        ),
        (
            "several audiences, azp another",
            with(&|c| {
                c["aud"] = json!(["corp-code-agent", "x"]);
                c["azp"] = json!("x");
            }),
            "code-agent",
            ErrorCode::InvalidGrant,
            "different client",
        ),
        (
            "trusted, not for this client",
            corp.token("corp-code-agent", "alice", |_| {}),
            "research-assistant",
            ErrorCode::InvalidGrant,
            "not for this client",
        ),
        (
            "signed by a key the issuer never published",
            stranger.sign("JWT", &good),
            "code-agent",
            ErrorCode::InvalidGrant,
            "no trusted key",
        ),
        (
            "an algorithm off the allow-list (EdDSA, key published)",
            ed.sign("JWT", &good),
            "code-agent",
            ErrorCode::InvalidGrant,
            "`EdDSA` is not allowed",
        ),
        (
            "ES256 signed by an unpublished key",
            es.sign("JWT", &good),
            "code-agent",
            ErrorCode::InvalidGrant,
            "`ES256` is not allowed",
        ),
        (
            "alg none",
            unsigned,
            "code-agent",
            ErrorCode::InvalidGrant,
            "`none` is not allowed",
        ),
        (
            "HS256 with the public key as secret",
            hs256,
            "code-agent",
            ErrorCode::InvalidGrant,
            "`HS256` is not allowed",
        ),
        (
            "expired",
            with(&|c| c["exp"] = json!(now() - 120)),
            "code-agent",
            ErrorCode::InvalidGrant,
            "expired",
        ),
        (
            "issued in the future",
            with(&|c| c["iat"] = json!(now() + 600)),
            "code-agent",
            ErrorCode::InvalidGrant,
            "in the future",
        ),
        (
            "not valid yet",
            with(&|c| c["nbf"] = json!(now() + 600)),
            "code-agent",
            ErrorCode::InvalidGrant,
            "not valid yet",
        ),
        (
            "no username claim",
            with(&|c| {
                c.as_object_mut().unwrap().remove("preferred_username");
            }),
            "code-agent",
            ErrorCode::InvalidGrant,
            "preferred_username",
        ),
        (
            "a person the directory does not have",
            with(&|c| c["preferred_username"] = json!("mallory")),
            "code-agent",
            ErrorCode::InvalidGrant,
            "no longer exists",
        ),
        (
            "the issuer's access token (another purpose)",
            corp.key().sign("at+jwt", &good),
            "code-agent",
            ErrorCode::InvalidGrant,
            "not an ID token",
        ),
        (
            "larger than the cap",
            with(&|c| c["pad"] = json!("x".repeat(5000))),
            "code-agent",
            ErrorCode::InvalidGrant,
            "larger than 4096",
        ),
        (
            "an issuer that is not trusted",
            SigningKey::generate(Alg::ES256).unwrap().sign(
                "JWT",
                &json!({"iss": "https://evil.example", "aud": "corp-code-agent", "sub": "alice"}),
            ),
            "code-agent",
            ErrorCode::InvalidGrant,
            "not issued by this IdP",
        ),
    ];
    for (name, token, client_id, code, says) in cases {
        let e = expect_oauth(
            exchange(i, client_id, &token, "docs", Some("docs.read")).await,
            code,
        );
        let why = described(e);
        assert!(why.contains(says), "{name}: `{why}` does not say `{says}`");
    }
    // No refused token produced an ID-JAG, and every one is audited as refused.
    assert_eq!(
        exchanges(i, None, admin_api::AuditOutcome::Success).await,
        0
    );
    assert_eq!(
        exchanges(i, None, admin_api::AuditOutcome::Refused).await,
        17
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_forged_kids_do_not_amplify() {
    let corp = CorpIdp::start().await;
    let d = world(vec![trusted(&corp)]).await;
    let i = &d.info;
    exchange(
        i,
        "code-agent",
        &corp.token("corp-code-agent", "alice", |_| {}),
        "docs",
        Some("docs.read"),
    )
    .await
    .expect("first key");
    let fetched = corp.jwks_fetches.load(Ordering::SeqCst);
    assert_eq!(fetched, 1, "keys are fetched once, then cached");
    // The company IdP rotates: a token under the new key is accepted after one
    // refetch, which waits out the refetch interval (10 s) since the first fetch;
    // meanwhile every try is refused without another fetch.
    corp.keys
        .lock()
        .unwrap()
        .push(Arc::new(SigningKey::generate(Alg::RS256).unwrap()));
    let rotated = corp.token("corp-code-agent", "alice", |_| {});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while exchange(i, "code-agent", &rotated, "docs", Some("docs.read"))
        .await
        .is_err()
    {
        assert_eq!(
            corp.jwks_fetches.load(Ordering::SeqCst),
            1,
            "refetched early"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the rotated key was never fetched"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(corp.jwks_fetches.load(Ordering::SeqCst), 2);
    // A stream of tokens under unknown kids costs no more fetches (rate-limited).
    for _ in 0..20 {
        let forged = SigningKey::generate(Alg::ES256).unwrap();
        let e = expect_oauth(
            exchange(
                i,
                "code-agent",
                &forged.sign("JWT", &corp.claims("corp-code-agent", "alice")),
                "docs",
                Some("docs.read"),
            )
            .await,
            ErrorCode::InvalidGrant,
        );
        assert!(described(e).contains("no trusted key"));
    }
    assert_eq!(corp.jwks_fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_issuer_is_temporarily_unavailable_and_issues_nothing() {
    let corp = CorpIdp::start().await;
    let mut down = trusted(&corp);
    // Nothing listens on port 9 of loopback (discard is not served here).
    down.issuer = "http://127.0.0.1:9/tenant-down".into();
    let d = world(vec![down.clone()]).await;
    let i = &d.info;
    let mut c = corp.claims("corp-code-agent", "alice");
    c["iss"] = json!(down.issuer);
    let t = corp.key().sign("JWT", &c);
    let e = expect_oauth(
        exchange(i, "code-agent", &t, "docs", Some("docs.read")).await,
        ErrorCode::TemporarilyUnavailable,
    );
    assert!(described(e).contains("cannot be reached"));
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
