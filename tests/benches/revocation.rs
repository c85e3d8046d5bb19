//! Revocation propagation benchmark: for each of N revocations, the time from the
//! admin API revoke call to the resource's MCP server refusing the live access
//! token (the SET pushed from the outbox, verified, applied). The baseline measured
//! in the same run is the revoke call's own round trip, so the table shows how much
//! the push adds. `cargo bench -p gatehouse-tests --bench revocation`
//! (`-- --quick` runs 10 revocations for CI).

use admin_api::{ApproveRequest, client::Mutation};
use std::time::{Duration, Instant};

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 10 } else { 200 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let d = demo::start(demo::DemoOptions::default()).await.unwrap();
        let i = &d.info;
        let (client, app_id, username) = ("research-assistant", "tickets", "grace");
        let app = i.app(app_id);
        let http = agent::http_client();
        let creds = gatehouse_tests::client(i, client);
        let signed = gatehouse_tests::sign_in(i, username, client, false).await;
        let rc = gatehouse_tests::resource_client(i, client, app_id);
        let approver = gatehouse_tests::admin_session(i, "oscar", false).await;
        let helpdesk = gatehouse_tests::admin_session(i, "dave", false).await;
        let probe = reqwest::Client::new();
        let req = agent::ExchangeRequest {
            audience: &app.issuer,
            resource: Some(&app.mcp),
            scope: None,
        };
        let (mut propagation, mut api) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            // Connect: a refused exchange files the request; approve it.
            let refused = agent::exchange(&http, &i.idp, &creds, &signed.id_token, &req)
                .await
                .err()
                .unwrap();
            let id = refused
                .oauth()
                .unwrap()
                .connection_request_id
                .clone()
                .unwrap();
            let etag = approver.get_request(&id).await.unwrap().etag;
            let ok = approver
                .approve(
                    &id,
                    &ApproveRequest::default(),
                    &Mutation {
                        if_match: Some(&etag),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let conn = ok.connection.unwrap();
            // Get a live access token.
            tokio::time::sleep(Duration::from_millis(1100)).await; // ID-JAG iat must be after the last revocation mark
            let jag = agent::exchange(&http, &i.idp, &creds, &signed.id_token, &req)
                .await
                .unwrap();
            let at = agent::redeem(&http, &app.issuer, &rc, &jag.access_token, None)
                .await
                .unwrap();
            // Revoke, then poll the MCP server until it refuses the token.
            let etag = helpdesk.get_connection(&conn.id).await.unwrap().etag;
            let start = Instant::now();
            helpdesk
                .connection_action(
                    &conn.id,
                    admin_api::ConnectionAction::Revoke,
                    "bench",
                    &Mutation {
                        if_match: Some(&etag),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            api.push(start.elapsed());
            loop {
                let r = probe
                    .post(&app.mcp)
                    .bearer_auth(&at.access_token)
                    .header("accept", "application/json, text/event-stream")
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                    .unwrap();
                if r.status() == 401 {
                    break;
                }
                if start.elapsed() > Duration::from_secs(10) {
                    panic!("the token was still accepted 10 s after the revoke");
                }
            }
            propagation.push(start.elapsed());
        }
        propagation.sort();
        api.sort();
        println!("\nGatehouse revocation propagation ({n} revocations)");
        println!(
            "{:<52} {:>10} {:>10} {:>10}",
            "measure (ms)", "p50", "p99", "max"
        );
        println!("{:-<85}", "");
        println!(
            "{:<52} {:>10.2} {:>10.2} {:>10.2}",
            "revoke API call (baseline)",
            pct(&api, 0.5),
            pct(&api, 0.99),
            pct(&api, 1.0)
        );
        println!(
            "{:<52} {:>10.2} {:>10.2} {:>10.2}",
            "revoke call → MCP refuses the live token",
            pct(&propagation, 0.5),
            pct(&propagation, 0.99),
            pct(&propagation, 1.0)
        );
        println!(
            "{:<52} {:>10.2}",
            "ratio p99 propagation / p99 API call",
            pct(&propagation, 0.99) / pct(&api, 0.99)
        );
        println!();
    });
}
