//! The IdP's Prometheus endpoint, scraped after real traffic and parsed by the
//! reference client's parser (PyPI `prometheus-client`, `tests/metrics/parse.py`;
//! the test command installs it and sets `GATEHOUSE_PROM_PARSER` to that Python;
//! without it this test says so and does nothing). The probes and the metrics'
//! URLs come from the demo's JSON line.

use gatehouse_tests::*;
use serde_json::Value;

/// The exposition at `url`, parsed: family name → {type, samples}.
async fn scrape(python: &str, url: &str) -> (String, Value) {
    let text = reqwest::get(url).await.unwrap();
    assert_eq!(text.status(), 200);
    assert!(
        text.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = text.text().await.unwrap();
    let (python, body) = (python.to_owned(), text.clone());
    let parsed = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(&python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/metrics/parse.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the parser refused the exposition: {}\n{body}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    })
    .await
    .unwrap();
    (text, parsed)
}

/// The value of the sample `name` whose labels include all of `labels`.
fn sample(families: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    families[family]["samples"]
        .as_array()?
        .iter()
        .find(|s| s[0] == name && labels.iter().all(|(k, v)| s[1][*k] == *v))
        .and_then(|s| s[2].as_f64())
}

#[tokio::test]
async fn metrics_count_exchanges_by_outcome_and_time_every_endpoint() {
    let Ok(python) = std::env::var("GATEHOUSE_PROM_PARSER") else {
        eprintln!(
            "GATEHOUSE_PROM_PARSER is not set: prometheus-client is not installed here, skipped"
        );
        return;
    };
    let d = start_demo().await;
    let i = &d.info;
    // The probes the JSON line names, unauthenticated, saying nothing more.
    for probe in [&i.healthz, &i.readyz] {
        let r = reqwest::get(probe.as_str()).await.unwrap();
        assert_eq!(r.status(), 200, "{probe}");
    }
    // /metrics is on its own listener, not the public one.
    let public = reqwest::get(format!("{}/metrics", i.idp)).await.unwrap();
    assert_eq!(public.status(), 404);

    // One exchange that succeeds and two refused ones of different kinds.
    let s = sign_in(i, "alice", "code-agent", false).await;
    exchange(i, "code-agent", &s.id_token, "docs", Some("docs.read"))
        .await
        .unwrap();
    let e = exchange(i, "code-agent", &s.id_token, "docs", Some("no.such.scope"))
        .await
        .err()
        .expect("an unknown scope is refused");
    let refused_code = match &e {
        agent::AgentError::OAuth(o) => o.error.as_str().to_owned(),
        other => panic!("an OAuth refusal, got {other}"),
    };
    let e = exchange(i, "code-agent", "not-a-token", "docs", Some("docs.read"))
        .await
        .err()
        .expect("a subject token that is no token is refused");
    assert!(matches!(e, agent::AgentError::OAuth(_)), "{e}");

    let (text, m) = scrape(&python, &i.metrics).await;
    let ex = "gatehouse_token_exchanges";
    assert_eq!(m[ex]["type"], "counter", "{text}");
    let total = format!("{ex}_total");
    assert_eq!(
        sample(&m, ex, &total, &[("outcome", "success"), ("error", "")]),
        Some(1.0),
        "{text}"
    );
    // The bad subject token is `invalid_grant`; the unknown scope may be too.
    let mut refused = std::collections::BTreeMap::new();
    *refused.entry(refused_code.as_str()).or_insert(0.0) += 1.0;
    *refused.entry("invalid_grant").or_insert(0.0) += 1.0;
    for (code, n) in refused {
        assert_eq!(
            sample(&m, ex, &total, &[("outcome", "refused"), ("error", code)]),
            Some(n),
            "{code}: {text}"
        );
    }
    // On SQLite the gate decides on what is true as read, never on memory.
    let g = "gatehouse_gate_views";
    let gate_total = format!("{g}_total");
    assert!(
        sample(&m, g, &gate_total, &[("source", "now")]).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        sample(&m, g, &gate_total, &[("source", "remembered")]),
        None,
        "{text}"
    );
    // Every request to /token timed, under its route, as a histogram.
    let h = "gatehouse_http_request_duration_seconds";
    assert_eq!(m[h]["type"], "histogram");
    let token_requests = sample(&m, h, &format!("{h}_count"), &[("endpoint", "/token")]).unwrap();
    assert!(
        token_requests >= 4.0,
        "sign-in code redemption + 3 exchanges: {token_requests}"
    );
    assert_eq!(
        sample(
            &m,
            h,
            &format!("{h}_bucket"),
            &[("endpoint", "/token"), ("le", "+Inf")]
        ),
        Some(token_requests)
    );
    let a = "gatehouse_audit_append_duration_seconds";
    assert!(sample(&m, a, &format!("{a}_count"), &[]).unwrap() >= 3.0);
    // Gauges read at scrape time: the seeded queue and the pool.
    let pending = "gatehouse_pending_connection_requests";
    assert_eq!(m[pending]["type"], "gauge");
    assert!(sample(&m, pending, pending, &[]).unwrap() >= 4.0, "{text}");
    let pool = "gatehouse_db_pool_connections";
    assert!(sample(&m, pool, pool, &[("state", "idle")]).is_some());
    assert_eq!(m["gatehouse_outbox_backlog"]["type"], "gauge");
    // Nothing secret in it.
    assert!(xaa::util::token_shaped(&text).is_empty(), "{text}");
    assert!(!text.contains(&s.id_token));
}
