//! `gatehouse-idp serve --log-format json`, the real binary: every line on
//! stderr is one JSON object; a line written while handling a request carries
//! that request's id in its span, the same id the response's `X-Request-Id`
//! names (the IdP's own; a proxy's plain id is kept beside it as `upstream`,
//! anything else dropped); and nothing secret — password, client secret, ID
//! token, ID-JAG, access or refresh token — is in the log, nor anything
//! token-shaped.

use gatehouse_tests::idp_process::{PASSWORD, REDIRECT, SECRET, SmallIdp};
use serde_json::Value;

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let idp = SmallIdp::write(dir.path());
    let issuer = idp.issuer.clone();
    let log_path = dir.path().join("idp.log");
    let mut child = idp.spawn(
        &["--log-format", "json"],
        &[("RUST_LOG", "debug")],
        &log_path,
    );
    idp.wait_ready().await;
    let http = reqwest::Client::new();

    // The IdP's own id answers; a proxy's plain id is kept beside it, a
    // header-injection attempt is dropped.
    let r = http
        .get(format!("{issuer}/jwks"))
        .header("x-request-id", "lb-42.a")
        .send()
        .await
        .unwrap();
    let proxied = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(
        proxied.starts_with("rq_") && proxied.len() == 35,
        "{proxied}"
    );
    let r = http
        .get(format!("{issuer}/jwks"))
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    let fresh = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(fresh.starts_with("rq_") && fresh != proxied, "{fresh}");

    // The secrets the run handles: sign-in, code, tokens, an ID-JAG.
    let signed = idp.sign_in().await;
    let Ok(jag) = idp.exchange(&signed.id_token).await else {
        panic!("the exchange was refused");
    };
    let wrong = agent::UserCreds {
        password: "not it".into(),
        ..idp.alice()
    };
    let refused = agent::sign_in(
        &agent::http_client(),
        &issuer,
        &idp.creds(),
        REDIRECT,
        &wrong,
        &Default::default(),
    )
    .await;
    assert!(refused.is_err());

    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 5, "{log}");
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
    }
    let with_id = |id: &str| lines.iter().filter(|l| l["span"]["id"] == id).count();
    assert!(with_id(&proxied) >= 1, "{log}");
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["id"] == proxied.as_str() && l["span"]["upstream"] == "lb-42.a"),
        "{log}"
    );
    assert!(with_id(&fresh) >= 1, "{log}");
    assert!(
        !log.contains("a b"),
        "a header that is no plain id is not logged"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["path"] == "/token" && l["fields"]["message"] == "answered"),
        "{log}"
    );
    for s in [
        PASSWORD,
        SECRET,
        signed.id_token.as_str(),
        signed.access_token.as_str(),
        jag.access_token.as_str(),
    ] {
        assert!(!log.contains(s), "a secret in the log");
    }
    if let Some(rt) = &signed.refresh_token {
        assert!(!log.contains(rt.as_str()), "a refresh token in the log");
    }
    assert!(xaa::util::token_shaped(&log).is_empty(), "{log}");
}
