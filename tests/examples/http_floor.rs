//! The floor under the token exchange on this machine, for `scripts/exchange-bench.sh`:
//! the IdP's own listener stack (`gatehouse-serve`, hyper, axum, mimalloc)
//! answering `POST /token` with an ES256 JWT the size of an ID-JAG and nothing
//! else — no form parsing, client authentication, subject token, policy or
//! audit. `http_floor ADDR sign` signs each answer afresh (one signature per
//! request, as the exchange does); `http_floor ADDR http` answers with one
//! token signed at start (the HTTP stack alone). It publishes its key at
//! `/jwks` (and discovery), so the harness verifies its tokens like any other
//! target's. What the exchange costs above the `sign` floor is Gatehouse's own
//! work; the `sign` floor's share of the signing ceiling bounds what any
//! server on this stack can reach.

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use axum::{Json, Router, routing::get, routing::post};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Signs `header.payload` and returns the compact JWS.
fn jws(key: &EcdsaKeyPair, rng: &SystemRandom, signing_input: &str) -> String {
    let sig = key
        .sign(rng, signing_input.as_bytes())
        .expect("ES256 signing");
    format!("{signing_input}.{}", B64.encode(sig.as_ref()))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().expect("http_floor ADDR sign|http");
    let sign_each = match args.next().as_deref() {
        Some("sign") => true,
        Some("http") => false,
        _ => panic!("http_floor ADDR sign|http"),
    };
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key = Arc::new(
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap(),
    );
    let point = key.public_key().as_ref().to_vec(); // 0x04 || x || y
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "floor",
        "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
    }]});
    let origin = format!("http://{addr}");
    // The claims of a typical ID-JAG of the demo (same fields, similar sizes).
    let header = B64.encode(br#"{"alg":"ES256","typ":"oauth-id-jag+jwt","kid":"floor"}"#);
    let claims = serde_json::json!({
        "iss": origin, "sub": "alice", "aud": "http://127.0.0.1:40000",
        "client_id": "mcp-client-for-gatehouse-agent", "jti": "y7V3u0n1JrZc8X2qL5w9Aa",
        "exp": 4_102_444_800u64, "iat": 1_765_000_000u64, "resource": "http://127.0.0.1:40001/mcp",
        "scope": "tickets:read tickets:write", "auth_time": 1_765_000_000u64, "acr": "urn:gatehouse:mfa",
        "email": "alice@example.com", "connection_id": "conn_0f6c1a2b3c4d4e5f8a9b0c1d2e3f4a5b",
        "connection_version": 3,
    });
    let signing_input = format!("{header}.{}", B64.encode(claims.to_string()));
    let fixed = jws(&key, &rng, &signing_input);
    let token = move || {
        if sign_each {
            jws(&key, &rng, &signing_input)
        } else {
            fixed.clone()
        }
    };
    let discovery = serde_json::json!({"issuer": origin, "jwks_uri": format!("{origin}/jwks")});
    let router = Router::new()
        .route(
            "/token",
            post(move || {
                let access_token = token();
                async move {
                    (
                        [("cache-control", "no-store")],
                        Json(serde_json::json!({
                            "access_token": access_token,
                            "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                            "token_type": "N_A",
                            "expires_in": 300,
                        })),
                    )
                }
            }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }))
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(discovery) }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    serve::serve(listener, router, serve::Limits::default())
        .await
        .expect("serve");
}
