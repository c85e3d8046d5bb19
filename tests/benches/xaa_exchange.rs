//! Token-exchange benchmark. Measures, in one run and on this machine:
//! 1. the raw signing ceiling: ID-JAG mints per second on one thread (ES256);
//! 2. the IdP's end-to-end token-exchange throughput over loopback HTTP with the
//!    policy gate and the audit log on (closed loop, many concurrent clients);
//! 3. latency p50/p99 at half of that peak (open loop, fixed arrival rate);
//! 4. as the baseline for (2), the HTTP floor: the same client and the same
//!    server stack (axum on loopback) answering a form POST with a token-sized
//!    JSON body and doing nothing else.
//!
//! Prints a table and the ratio of (2) to (1). `cargo bench -p gatehouse-tests
//! --bench xaa_exchange` for real numbers; `-- --quick` for the short CI run.
//! The load generator shares the machine's cores with the IdP.

use gatehouse_tests::load::{Target, closed_loop, exchange_target, one, open_loop, pct};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

fn signing_ceiling(window: Duration) -> f64 {
    let key = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    let mut claims = xaa::IdJagClaims {
        iss: "https://idp.example".into(),
        sub: "alice".into(),
        aud: "https://as.example".into(),
        client_id: "agent".into(),
        jti: String::new(),
        exp: 2_000_000_300,
        iat: 2_000_000_000,
        nbf: None,
        resource: Some("https://mcp.example/mcp".into()),
        scope: Some("docs.read docs.write".into()),
        auth_time: Some(2_000_000_000),
        acr: Some(xaa::ACR_PASSWORD.into()),
        amr: None,
        email: Some("alice@example.com".into()),
        tenant: None,
        aud_sub: None,
        cnf: None,
        connection_id: Some("conn_0123456789abcdef".into()),
        connection_version: Some(1),
    };
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        claims.jti = xaa::util::random_token(16);
        std::hint::black_box(xaa::idjag::mint(&key, &claims));
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// A server that parses the same form and answers a same-sized body, nothing more.
async fn http_floor_target(form: Vec<(String, String)>) -> Target {
    use axum::routing::post;
    let body =
        serde_json::json!({ "access_token": "x".repeat(700), "token_type": "N_A" }).to_string();
    let app = axum::Router::new().route(
        "/token",
        post(move |b: axum::body::Bytes| {
            let body = body.clone();
            async move {
                let n = url::form_urlencoded::parse(&b).count();
                std::hint::black_box(n);
                ([("content-type", "application/json")], body)
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    Target { url, form }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (sign_window, load_window) = if quick {
        (Duration::from_millis(300), Duration::from_millis(700))
    } else {
        (Duration::from_secs(3), Duration::from_secs(5))
    };
    let ceiling = signing_ceiling(sign_window);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let d = demo::start(demo::DemoOptions::default())
            .await
            .expect("demo");
        let target = Arc::new(exchange_target(&d.info, "tickets.read tickets.comment").await);
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        assert!(
            one(&http, &target).await,
            "a single exchange must succeed before measuring"
        );
        let workers = if quick { 8 } else { 32 };
        let floor = Arc::new(http_floor_target(target.form.clone()).await);
        let (floor_rps, _) = closed_loop(floor, http.clone(), workers, load_window).await;
        let (peak, peak_failed) =
            closed_loop(target.clone(), http.clone(), workers, load_window).await;
        let half = (peak / 2.0).max(1.0);
        let (lat, lat_failed) = open_loop(target.clone(), http.clone(), half, load_window).await;
        let audited = d
            .idp
            .store
            .audit_events(Some("id_jag.exchange"), i64::MAX)
            .await
            .unwrap();
        let chain = d.idp.store.verify_audit().await.unwrap();

        let mode = if quick { "quick" } else { "full" };
        let rows: Vec<(String, String)> = vec![
            (
                "ID-JAG sign ceiling, 1 thread (ES256 mints/s)".into(),
                format!("{ceiling:.0}"),
            ),
            (
                format!("HTTP floor: no-op POST, {workers} clients (req/s)"),
                format!("{floor_rps:.0}"),
            ),
            (
                format!("token exchange, {workers} clients (exchanges/s)"),
                format!("{peak:.0}"),
            ),
            (
                "  ratio to signing ceiling".into(),
                format!("{:.3}", peak / ceiling),
            ),
            (
                "  ratio to HTTP floor".into(),
                format!("{:.3}", peak / floor_rps),
            ),
            ("  failed requests".into(), peak_failed.to_string()),
            (
                "open loop at half of peak (req/s)".into(),
                format!("{half:.0}"),
            ),
            (
                "  p50 latency (ms)".into(),
                format!("{:.2}", pct(&lat, 0.50)),
            ),
            (
                "  p99 latency (ms)".into(),
                format!("{:.2}", pct(&lat, 0.99)),
            ),
            (
                "  samples / failed".into(),
                format!("{} / {lat_failed}", lat.len()),
            ),
            ("audited exchanges".into(), audited.len().to_string()),
            (
                "audit chain after load".into(),
                if chain.ok() { "verified" } else { "BROKEN" }.into(),
            ),
        ];
        println!("\nGatehouse token-exchange benchmark ({mode})");
        println!("{:<54} {:>12}", "measure", "value");
        println!("{:-<67}", "");
        for (k, v) in rows {
            println!("{k:<54} {v:>12}");
        }
        println!();
        assert!(chain.ok(), "the audit chain must verify after load");
        assert_eq!(
            peak_failed + lat_failed,
            0,
            "no request may fail under load"
        );
    });
}
