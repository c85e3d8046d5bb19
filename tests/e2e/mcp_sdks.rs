//! The official MCP SDKs as peers of our MCP server and its authorization
//! server: the TypeScript SDK (npm) discovers and schema-checks the protected
//! resource and authorization server metadata, opens a session, calls a tool,
//! ends the session and is refused from a foreign Origin; the Python SDK (PyPI)
//! opens a session, calls a tool and leaves without logging a failed session
//! termination. The access token comes from the real XAA flow (sign-in, ID-JAG,
//! redemption). The TypeScript SDK v2 (`@modelcontextprotocol/client`) runs that
//! flow itself as a cross-app-access client, and `jose` checks our tokens. The test command installs both SDKs and sets
//! `GATEHOUSE_MCP_SDKS` to the Python interpreter that has `mcp`; without it
//! the test says so and does nothing.

use gatehouse_tests::*;
use serde_json::Value;
use std::process::Command;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/mcp-sdk");

/// Runs a peer off the runtime's threads (the demo's servers share them).
async fn run(program: &str, script: &str, env: &[(&str, &str)]) -> Value {
    let (program, script) = (program.to_owned(), script.to_owned());
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || run_blocking(&program, &script, &env))
        .await
        .unwrap()
}

fn run_blocking(program: &str, script: &str, env: &[(String, String)]) -> Value {
    // Bounded: a peer that hangs fails the test instead of stalling the suite.
    let out = Command::new("timeout")
        .args(["60", program, script])
        .current_dir(DIR)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{program} {script}: {}\n{stderr}",
        out.status
    );
    let line = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{stderr}"))
}

/// The Python interpreter that has `mcp`, as the test command installs it;
/// without it the SDK tests say so and do nothing.
fn sdks_python() -> Option<String> {
    let python = std::env::var("GATEHOUSE_MCP_SDKS").ok();
    if python.is_none() {
        eprintln!(
            "GATEHOUSE_MCP_SDKS is not set: the official SDKs are not installed here, skipped"
        );
    }
    python
}

#[tokio::test]
async fn the_official_mcp_sdks_meet_our_mcp_server_and_its_metadata() {
    let Some(python) = sdks_python() else {
        return;
    };
    let d = start_demo().await;
    let i = &d.info;
    let app = i.app("docs");
    let token = || async {
        let s = sign_in(i, "alice", "code-agent", false).await;
        let jag = exchange(i, "code-agent", &s.id_token, "docs", Some("docs.read"))
            .await
            .unwrap();
        agent::redeem(
            &agent::http_client(),
            &app.issuer,
            &resource_client(i, "code-agent", "docs"),
            &jag.access_token,
            None,
        )
        .await
        .unwrap()
        .access_token
    };

    let at = token().await;
    let env = [("MCP_URL", app.mcp.as_str()), ("ACCESS_TOKEN", at.as_str())];
    let ts = run("node", "client.mjs", &env).await;
    // The SDK's discovery accepted (schema-validated) both metadata documents.
    assert_eq!(ts["authorization_server"], app.issuer.as_str(), "{ts}");
    assert_eq!(ts["metadata_issuer"], app.issuer.as_str());
    assert_eq!(ts["resource"], app.mcp.as_str());
    assert_eq!(ts["grant_types"][0], xaa::GRANT_JWT_BEARER);
    assert!(
        ts["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "list_records")
    );
    assert_eq!(ts["is_error"], false, "{ts}");
    assert!(ts["text"].as_str().unwrap().starts_with('['), "{ts}");
    assert_eq!(ts["terminated"], true, "{ts}");
    let refused = ts["foreign_origin"].as_str().unwrap();
    assert!(
        refused.contains("this Origin may not call the MCP server"),
        "a foreign Origin is refused (403): {refused}"
    );

    let at = token().await;
    let env = [("MCP_URL", app.mcp.as_str()), ("ACCESS_TOKEN", at.as_str())];
    let py = run(&python, "client.py", &env).await;
    assert!(
        py["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "list_records"),
        "{py}"
    );
    assert_eq!(py["is_error"], false, "{py}");
    assert!(py["text"].as_str().unwrap().starts_with('['), "{py}");
    assert_eq!(
        py["warnings"],
        serde_json::json!([]),
        "the Python SDK logged a warning (a session DELETE answered 202 logs one)"
    );
}

/// Both SDKs as cross-app-access clients. The TypeScript SDK v2 drives the whole XAA flow itself (its
/// CrossAppAccessProvider: 401 → RFC 9728 → token exchange at our IdP → jwt-bearer
/// redemption) from nothing but the person's ID token and the client's
/// credentials, and panva's `jose` checks the ID token and the ID-JAG against our
/// JWKS — and refuses each where it was not meant to be used.
#[tokio::test]
async fn the_sdks_as_cross_app_access_clients_and_jose_meet_our_idp_and_mcp_server() {
    let Some(python) = sdks_python() else {
        return;
    };
    let d = start_demo().await;
    let i = &d.info;
    let app = i.app("docs");
    let s = sign_in(i, "alice", "code-agent", false).await;
    let idp_client = i.client("code-agent");
    let as_client = resource_client(i, "code-agent", "docs");
    let idp_secret = idp_client.client_secret.clone();
    // What an AI app holds: the person's ID token, its credentials at the IdP
    // and at the MCP server's AS, and where those are. Nothing else.
    let xaa_env = |id_token: &str| {
        [
            ("MCP_URL", app.mcp.clone()),
            ("IDP", i.idp.clone()),
            ("ID_TOKEN", id_token.to_owned()),
            ("IDP_CLIENT_ID", "code-agent".to_owned()),
            ("IDP_CLIENT_SECRET", idp_secret.clone()),
            ("AS_CLIENT_ID", as_client.client_id.clone()),
            ("AS_CLIENT_SECRET", as_client.client_secret.clone()),
            ("AS_ISSUER", app.issuer.clone()),
            ("SCOPE", "docs.read".to_owned()),
        ]
    };
    let env = xaa_env(&s.id_token);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run("node", "xaa.mjs", &env).await;

    assert_eq!(out["id_token"]["sub"], "alice", "{out}");
    // The SDK found the authorization server and resource by itself.
    assert_eq!(
        out["context"]["authorization_server"],
        app.issuer.as_str(),
        "{out}"
    );
    assert_eq!(out["context"]["resource"], app.mcp.as_str(), "{out}");
    // …and asked for the least scope, from the 401's challenge (without it the
    // SDK asks for every scope in scopes_supported, which needs MFA here).
    assert_eq!(out["context"]["scope"], "docs.read", "{out}");
    // The ID-JAG, as jose read it after checking signature, typ, iss and aud.
    let jag = &out["id_jag"];
    assert_eq!(jag["typ"], xaa::TYP_ID_JAG, "{out}");
    assert_eq!(jag["sub"], "alice");
    assert_eq!(jag["client_id"], as_client.client_id.as_str());
    assert_eq!(jag["resource"], app.mcp.as_str());
    assert_eq!(jag["scope"], "docs.read");
    assert!(out["exchange"]["expires_in"].as_u64().unwrap() > 0, "{out}");
    // The redeemed token carried the tool call.
    assert_eq!(out["is_error"], false, "{out}");
    assert!(out["text"].as_str().unwrap().starts_with('['), "{out}");
    assert!(
        out["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "list_records")
    );
    // jose's own error codes for each misuse.
    let refused = &out["refused"];
    for (case, code) in [
        ("id_jag_as_id_token", "ERR_JWT_CLAIM_VALIDATION_FAILED"),
        ("id_token_as_id_jag", "ERR_JWT_CLAIM_VALIDATION_FAILED"),
        ("id_jag_other_audience", "ERR_JWT_CLAIM_VALIDATION_FAILED"),
        ("id_jag_other_issuer", "ERR_JWT_CLAIM_VALIDATION_FAILED"),
        ("id_jag_alg_outside_list", "ERR_JOSE_ALG_NOT_ALLOWED"),
    ] {
        assert_eq!(refused[case], code, "{case}: {out}");
    }
    // ID-JAGs built by jose with the real one's claims: refused at our AS.
    for case in ["foreign_key", "unsecured"] {
        let e = out["forged"][case].as_str().unwrap();
        assert!(e.contains("invalid_grant"), "{case}: {e}");
    }
    // Nothing secret came back on stdout.
    let printed = out.to_string();
    for secret in [
        s.id_token.as_str(),
        idp_secret.as_str(),
        as_client.client_secret.as_str(),
    ] {
        assert!(!printed.contains(secret));
    }

    // The Python SDK's IdentityAssertionOAuthProvider redeems an ID-JAG its
    // callback obtained from our IdP (leg 1 is the app's own there) and calls
    // a tool; the callback is asked for our AS as audience and our MCP server
    // as resource.
    let s = sign_in(i, "alice", "code-agent", false).await;
    let env = xaa_env(&s.id_token);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let py = run(&python, "client_xaa.py", &env).await;
    assert_eq!(py["asked"][0]["audience"], app.issuer.as_str(), "{py}");
    assert_eq!(py["asked"][0]["resource"], app.mcp.as_str(), "{py}");
    assert_eq!(py["is_error"], false, "{py}");
    assert!(py["text"].as_str().unwrap().starts_with('['), "{py}");
    assert_eq!(py["warnings"], serde_json::json!([]), "{py}");
    let printed = py.to_string();
    for secret in [
        s.id_token.as_str(),
        idp_secret.as_str(),
        as_client.client_secret.as_str(),
    ] {
        assert!(!printed.contains(secret));
    }
}
