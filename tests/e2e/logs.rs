//! `gatehouse-idp serve --log-format json`, the real binary: every line on
//! stderr is one JSON object; a line written while handling a request carries
//! that request's id in its span, the same id the response's `X-Request-Id`
//! names (the IdP's own; a proxy's plain id is kept beside it as `upstream`,
//! anything else dropped); and nothing secret — password, client secret, ID
//! token, ID-JAG, access or refresh token — is in the log, nor anything
//! token-shaped.

use gatehouse_tests::{binary, free_port};
use serde_json::Value;
use std::{
    process::{Command, Stdio},
    time::Duration,
};

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let password = "correct horse battery staple";
    let secret = "agent-secret-7d1f";
    let config = format!(
        r#"
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
database = "{db}"

[[users]]
username = "alice"
password_hash = "{hash}"

[[clients]]
client_id = "agent"
name = "Agent"
redirect_uris = ["http://127.0.0.1:4000/callback"]
auth = {{ method = "client_secret", secret_sha256 = "{sha}" }}

[[resource_apps]]
id = "docs"
name = "Docs"
issuer = "http://127.0.0.1:9"
mcp_servers = ["http://127.0.0.1:9/mcp"]
scopes = [{{ name = "docs.read", description = "Read", risk = "read" }}]

[[connections]]
client_id = "agent"
resource_app = "docs"
scopes = {{ kind = "all" }}
"#,
        db = dir.path().join("idp.sqlite").display(),
        hash = idp::authorize::hash_password(password),
        sha = xaa::util::sha256_hex(secret.as_bytes()),
    );
    let config_path = dir.path().join("idp.toml");
    std::fs::write(&config_path, config).unwrap();
    let log_path = dir.path().join("idp.log");
    let mut child = Command::new(binary("gatehouse-idp"))
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..400 {
        if let Ok(r) = http.get(format!("{issuer}/readyz")).send().await
            && r.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "the IdP did not become ready");

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
    let creds = agent::ClientCreds {
        client_id: "agent".into(),
        client_secret: secret.into(),
    };
    let user = agent::UserCreds {
        username: "alice".into(),
        password: password.into(),
        totp_secret: None,
    };
    let signed = agent::sign_in(
        &agent::http_client(),
        &issuer,
        &creds,
        "http://127.0.0.1:4000/callback",
        &user,
        &Default::default(),
    )
    .await
    .unwrap();
    let Ok(jag) = agent::exchange(
        &agent::http_client(),
        &issuer,
        &creds,
        &signed.id_token,
        &agent::ExchangeRequest {
            audience: "http://127.0.0.1:9",
            resource: Some("http://127.0.0.1:9/mcp"),
            scope: Some("docs.read"),
        },
    )
    .await
    else {
        panic!("the exchange was refused");
    };
    let wrong = agent::UserCreds {
        password: "not it".into(),
        ..user.clone()
    };
    let refused = agent::sign_in(
        &agent::http_client(),
        &issuer,
        &creds,
        "http://127.0.0.1:4000/callback",
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
        password,
        secret,
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
