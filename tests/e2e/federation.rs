//! Federated sign-in against a real third-party OpenID Provider: panva's
//! `oidc-provider` from npm (`tests/upstream-oidc/server.mjs`), started as its
//! own process on loopback. A browser (reqwest with a cookie jar, following
//! redirects by hand) goes from the AI app to Gatehouse's `/authorize`, on to
//! the company IdP's login, and back; the tests check what Gatehouse issues,
//! what it writes to the directory and the audit log, and that a wrong `iss`, a
//! replayed `state`, a wrong `nonce`, another browser and an upstream that is
//! down each end on a page that says why, with nothing created.
//! The test command installs the provider (`npm ci` in tests/upstream-oidc).

use gatehouse_tests::{upstream_oidc::*, *};
use serde_json::Value;
use xaa::{ErrorCode, util};

/// The AI app's side: its authorization request at Gatehouse.
struct AppRequest {
    url: String,
    verifier: String,
    state: String,
}

fn app_request(d: &Demo, client: &str, mfa: bool) -> AppRequest {
    let verifier = util::random_token(32);
    let state = util::random_token(8);
    let mut q = vec![
        ("response_type", "code".to_string()),
        ("client_id", client.to_string()),
        ("redirect_uri", demo::REDIRECT_URI.to_string()),
        ("scope", "openid email groups".to_string()),
        ("state", state.clone()),
        ("nonce", util::random_token(8)),
        ("code_challenge", util::pkce_s256(&verifier)),
        ("code_challenge_method", "S256".to_string()),
    ];
    if mfa {
        q.push(("acr_values", xaa::ACR_MFA.to_string()));
    }
    let url = url::Url::parse_with_params(&format!("{}/authorize", d.info.idp), &q)
        .unwrap()
        .to_string();
    AppRequest {
        url,
        verifier,
        state,
    }
}

/// From the login page to the company IdP's login page; returns its URL.
async fn to_corp_login(b: &Browser, d: &Demo, req: &AppRequest) -> String {
    b.to_corp_login(&d.info.idp, &req.url).await
}

/// Signs in at Corp and returns the Gatehouse callback URL the browser is sent to.
async fn corp_answer(
    b: &Browser,
    login_page: &str,
    who: &str,
    otp: Option<&str>,
    d: &Demo,
) -> String {
    let cb = format!("{}/authorize/upstream/callback", d.info.idp);
    b.corp_answer(login_page, who, otp, &cb).await
}

/// Redeems the code Gatehouse sent to the app; returns the ID token's claims and the token.
async fn app_tokens(d: &Demo, client: &str, req: &AppRequest, back: &str) -> (Value, String) {
    let q = url_query(back);
    assert_eq!(q.get("state"), Some(&req.state), "{back}");
    assert_eq!(q.get("iss"), Some(&d.info.idp));
    let code = q.get("code").unwrap_or_else(|| panic!("no code: {back}"));
    let c = gatehouse_tests::client(&d.info, client);
    let r = reqwest::Client::new()
        .post(format!("{}/token", d.info.idp))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", demo::REDIRECT_URI),
            ("code_verifier", &req.verifier),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let id_token = body["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    (claims(&id_token), id_token)
}

/// A whole sign-in of `who` at Corp for code-agent: the ID token's claims and the token.
async fn corp_sign_in(d: &Demo, who: &str, otp: Option<&str>, mfa: bool) -> (Value, String) {
    let b = Browser::new();
    let req = app_request(d, "code-agent", mfa);
    let page = to_corp_login(&b, d, &req).await;
    let back = corp_answer(&b, &page, who, otp, d).await;
    let done = b.follow(back, demo::REDIRECT_URI).await;
    app_tokens(d, "code-agent", &req, &done.location.expect(&done.body)).await
}

/// A sign-in of `who` at Corp up to Corp's answer: the browser and the callback URL.
async fn to_callback(d: &Demo, who: &str) -> (Browser, String) {
    let b = Browser::new();
    let req = app_request(d, "code-agent", false);
    let page = to_corp_login(&b, d, &req).await;
    let back = corp_answer(&b, &page, who, None, d).await;
    (b, back)
}

async fn users(d: &Demo) -> Vec<admin_api::UserView> {
    admin_session(&d.info, "judy", false)
        .await
        .get_json("/users", &[])
        .await
        .unwrap()
}

async fn logins(d: &Demo, outcome: admin_api::AuditOutcome) -> Vec<admin_api::AuditEventView> {
    admin_session(&d.info, "judy", false)
        .await
        .audit(&gatehouse_tests::query(&[
            ("kind", "login".into()),
            ("outcome", outcome.as_str().into()),
            ("limit", "200".into()),
        ]))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn a_person_signs_in_at_the_company_idp_and_gatehouse_issues_its_own_tokens() {
    let (d, _corp) = world().await;
    let (c, id_token) = corp_sign_in(&d, "alice", None, false).await;
    assert_eq!(c["iss"], d.info.idp, "Gatehouse's own ID token");
    assert_eq!(
        c["sub"], "alice",
        "the directory's person, by preferred_username"
    );
    assert_eq!(c["acr"], xaa::ACR_PASSWORD, "one factor at Corp");
    // It works at the gate like any Gatehouse sign-in.
    let jag = exchange(&d.info, "code-agent", &id_token, "docs", Some("docs.read"))
        .await
        .expect("exchange");
    assert_eq!(claims(&jag.access_token)["sub"], "alice");
    let ok = logins(&d, admin_api::AuditOutcome::Success).await;
    assert!(
        ok.iter().any(|e| e.subject.as_deref() == Some("alice")
            && e.detail["upstream"] == "corp"
            && e.detail["upstream_amr"] == serde_json::json!(["pwd"])),
        "{:#?}",
        ok.iter().map(|e| &e.detail).collect::<Vec<_>>()
    );

    // Someone the directory does not have yet is created (source upstream),
    // in the existing groups the token names, never a role group, never a new group.
    let (c, _) = corp_sign_in(&d, "newbie", None, false).await;
    assert_eq!(c["sub"], "newbie");
    assert_eq!(c["email"], "newbie@corp.example");
    let all = users(&d).await;
    let newbie = all
        .iter()
        .find(|u| u.username == "newbie")
        .expect("created");
    assert_eq!(newbie.source, admin_api::DirectorySource::Upstream);
    assert!(newbie.active);
    let mut groups = newbie.groups.clone();
    groups.sort();
    assert_eq!(
        groups,
        vec!["employees", "engineering"],
        "not iam-approvers, not an unknown group"
    );
}

#[tokio::test]
async fn step_up_passes_through_and_is_granted_only_when_the_company_idp_proves_mfa() {
    let (d, _corp) = world().await;
    // One factor at Corp: the ID token says password, the exchange of a scope
    // that needs MFA is refused with the RFC 9470 error.
    let b = Browser::new();
    let req = app_request(&d, "code-agent", true);
    let page = to_corp_login(&b, &d, &req).await;
    let shown = b.get(&page).await.body; // the page again, same interaction
    assert!(
        shown.contains("acr_values=urn:corp:mfa"),
        "the step-up is asked of Corp: {shown}"
    );
    assert!(shown.contains("prompt=login"), "{shown}");
    let back = corp_answer(&b, &page, "carol", None, &d).await;
    let done = b.follow(back, demo::REDIRECT_URI).await;
    let (c, one_factor) = app_tokens(&d, "code-agent", &req, &done.location.unwrap()).await;
    assert_eq!(
        c["acr"],
        xaa::ACR_PASSWORD,
        "never granted MFA Corp did not prove"
    );
    let e = expect_oauth(
        exchange(
            &d.info,
            "code-agent",
            &one_factor,
            "docs",
            Some("docs.admin"),
        )
        .await,
        ErrorCode::InsufficientUserAuthentication,
    );
    assert_eq!(e.acr_values.as_deref(), Some(xaa::ACR_MFA));
    // With the second factor at Corp: MFA, and the exchange passes.
    let (c, mfa) = corp_sign_in(&d, "carol", Some("123456"), true).await;
    assert_eq!(c["acr"], xaa::ACR_MFA);
    exchange(&d.info, "code-agent", &mfa, "docs", Some("docs.admin"))
        .await
        .expect("MFA proved at Corp");
}

#[tokio::test]
async fn a_wrong_iss_a_replayed_state_another_browser_and_a_wrong_nonce_are_refused() {
    let (d, corp) = world().await;

    // Mix-up: the response names another issuer (RFC 9207).
    let (b, back) = to_callback(&d, "newbie").await;
    let tampered = back.replace(
        &url::form_urlencoded::byte_serialize(corp.issuer.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example",
    );
    assert_ne!(tampered, back, "the callback carries iss");
    let s = b.get(&tampered).await;
    assert_eq!(s.status, 400);
    assert!(s.body.contains("did not come from Corp SSO"), "{}", s.body);
    // The state was spent: the honest response is refused now too.
    let s = b.get(&back).await;
    assert_eq!(s.status, 400);
    assert!(s.body.contains("already used or has expired"), "{}", s.body);

    // A replayed state after a successful sign-in.
    let (b, back) = to_callback(&d, "alice").await;
    let first = b.get(&back).await;
    assert_eq!(first.status, 303);
    assert!(first.location.unwrap().starts_with(demo::REDIRECT_URI));
    let again = b.get(&back).await;
    assert_eq!(again.status, 400, "a replayed state");
    assert!(again.body.contains("already used"));

    // The response delivered to another browser (login CSRF / a stolen link).
    let (_, back) = to_callback(&d, "alice").await;
    let s = Browser::new().get(&back).await;
    assert_eq!(s.status, 403);
    assert!(s.body.contains("another browser"), "{}", s.body);

    // Corp returns an ID token with another nonce: refused, nobody created.
    corp.misbehave(true).await;
    let (b, back) = to_callback(&d, "nonce-victim").await;
    let s = b.get(&back).await;
    assert_eq!(s.status, 502);
    assert!(s.body.contains("nonce"), "{}", s.body);
    corp.misbehave(false).await;

    let all = users(&d).await;
    for nobody in ["newbie", "nonce-victim"] {
        assert!(
            !all.iter().any(|u| u.username == nobody),
            "{nobody} was created"
        );
    }
    let refused = logins(&d, admin_api::AuditOutcome::Refused).await;
    let reasons: Vec<&str> = refused.iter().filter_map(|e| e.reason.as_deref()).collect();
    for says in [
        "RFC 9207",
        "unknown, used or expired state",
        "another browser",
        "nonce",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(says)),
            "no refusal says `{says}`: {reasons:?}"
        );
    }
}

#[tokio::test]
async fn an_upstream_that_is_down_gets_a_clear_page_and_nothing_is_created() {
    let (d, mut corp) = world().await;
    // Down between its login and the code's redemption.
    let (b, back) = to_callback(&d, "newbie").await;
    corp.child.kill().await.unwrap();
    let s = b.get(&back).await;
    assert_eq!(s.status, 502);
    assert!(
        s.body.contains("Corp SSO cannot be reached right now"),
        "{}",
        s.body
    );
    assert!(s.body.contains("nothing was changed"));
    assert!(!users(&d).await.iter().any(|u| u.username == "newbie"));

    // Down before anything: a Gatehouse that has not discovered it yet.
    let port = free_port();
    let d2 = demo::start(demo::DemoOptions {
        listen: format!("127.0.0.1:{port}"),
        upstreams: vec![upstream(&corp.issuer)],
        ..Default::default()
    })
    .await
    .unwrap();
    let b = Browser::new();
    let req = app_request(&d2, "code-agent", false);
    let login = b.get(&req.url).await;
    let s = b
        .get(&absolute(&d2.info.idp, &upstream_href(&login.body)))
        .await;
    assert_eq!(s.status, 502);
    assert!(s.body.contains("cannot be reached right now"), "{}", s.body);
}
