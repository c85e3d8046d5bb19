//! The IdP on each store, in one run: token exchanges/s (closed loop) and p99 at
//! half of that (open loop) on SQLite, on PostgreSQL with one node, and with two
//! nodes on one PostgreSQL (the load split between them); then, with two nodes,
//! how long from a suspend acknowledged on node A until node B refuses (p50/p99),
//! beside the suspend call alone as the baseline. The second node runs in this
//! process with its own pool, jobs and listener, as a separate server would.
//!
//! Needs `GATEHOUSE_POSTGRES` (a PostgreSQL server's URL; the test command starts
//! one); without it, it says so and stops. `cargo bench -p gatehouse-tests
//! --bench cluster`; `-- --quick` for the short CI run.

use gatehouse_tests::load::{Target, closed_loop, exchange_target, one, open_loop, pct};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

struct World {
    demo: demo::Demo,
    /// The exchange, ready to send (to node A).
    exchange: Target,
}

async fn world(database_url: Option<String>) -> World {
    // `database_url` is always named here (see main).
    let d = demo::start(demo::DemoOptions {
        database_url,
        ..Default::default()
    })
    .await
    .expect("demo");
    let exchange = exchange_target(&d.info, "tickets.read").await;
    World { demo: d, exchange }
}

/// A second node on the same database: the demo IdP's config, another port.
async fn second_node(w: &World, database_url: &str) -> String {
    let mut config = w.demo.idp.config.clone();
    config.database = idp::config::Database::Url {
        url: database_url.into(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = idp::server::build(config).await.expect("second node");
    tokio::spawn(idp::server::serve(state, listener));
    url
}

struct Row {
    setup: &'static str,
    peak: f64,
    p99: f64,
    failed: u64,
}

async fn measure(
    setup: &'static str,
    targets: Vec<Arc<Target>>,
    http: &reqwest::Client,
    workers: usize,
    window: Duration,
) -> Row {
    for t in &targets {
        assert!(
            one(http, t).await,
            "{setup}: one exchange must succeed first"
        );
    }
    let per = workers / targets.len();
    let runs = targets
        .iter()
        .map(|t| closed_loop(t.clone(), http.clone(), per, window));
    let results = futures_util::future::join_all(runs).await;
    let peak: f64 = results.iter().map(|r| r.0).sum();
    let mut failed: u64 = results.iter().map(|r| r.1).sum();
    let half = (peak / 2.0 / targets.len() as f64).max(1.0);
    let lats = targets
        .iter()
        .map(|t| open_loop(t.clone(), http.clone(), half, window));
    let mut lat = vec![];
    for (l, f) in futures_util::future::join_all(lats).await {
        lat.extend(l);
        failed += f;
    }
    lat.sort();
    Row {
        setup,
        peak,
        p99: pct(&lat, 0.99),
        failed,
    }
}

fn main() {
    let Ok(server) = std::env::var("GATEHOUSE_POSTGRES") else {
        println!("cluster benchmark: GATEHOUSE_POSTGRES is not set, nothing to measure on");
        return;
    };
    let quick = std::env::args().any(|a| a == "--quick");
    let (window, workers, pairs) = if quick {
        (Duration::from_millis(700), 8, 50)
    } else {
        (Duration::from_secs(5), 32, 500)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        let mut rows = vec![];

        // Named explicitly: with GATEHOUSE_POSTGRES set, a demo world would
        // otherwise go to PostgreSQL.
        let dir = tempfile::tempdir().unwrap();
        let sqlite = world(Some(idp::store::sqlite_url(&dir.path().join("idp.sqlite")))).await;
        rows.push(
            measure(
                "SQLite, one node",
                vec![Arc::new(sqlite.exchange)],
                &http,
                workers,
                window,
            )
            .await,
        );
        drop(sqlite.demo);

        let url = idp::store::create_postgres_database(&server, "gh_bench")
            .await
            .unwrap();
        let pg = world(Some(url.clone())).await;
        let a = Arc::new(Target {
            url: pg.exchange.url.clone(),
            form: pg.exchange.form.clone(),
        });
        rows.push(
            measure(
                "PostgreSQL, one node",
                vec![a.clone()],
                &http,
                workers,
                window,
            )
            .await,
        );
        let node_b = second_node(&pg, &url).await;
        let b = Arc::new(Target {
            url: format!("{node_b}/token"),
            form: pg.exchange.form.clone(),
        });
        rows.push(
            measure(
                "PostgreSQL, two nodes",
                vec![a, b.clone()],
                &http,
                workers,
                window,
            )
            .await,
        );

        // Suspend on A → the next exchange on B is refused; then resume.
        let admin = gatehouse_tests::admin_session(&pg.demo.info, "carol", false).await;
        let mut conn = admin
            .list_connections(&gatehouse_tests::query(&[
                ("client_id", "support-copilot".into()),
                ("resource_app", "tickets".into()),
            ]))
            .await
            .unwrap()
            .items
            .remove(0);
        let (mut call, mut refused) = (vec![], vec![]);
        for _ in 0..pairs {
            let etag = format!("\"v{}\"", conn.version);
            let t0 = Instant::now();
            let v = admin
                .connection_action(
                    &conn.id,
                    admin_api::ConnectionAction::Suspend,
                    "bench",
                    &admin_api::client::Mutation {
                        if_match: Some(&etag),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            call.push(t0.elapsed());
            assert!(
                !one(&http, &b).await,
                "the next exchange on B after a suspend on A is refused"
            );
            refused.push(t0.elapsed());
            let etag = format!("\"v{}\"", v.version);
            conn = admin
                .connection_action(
                    &conn.id,
                    admin_api::ConnectionAction::Resume,
                    "bench",
                    &admin_api::client::Mutation {
                        if_match: Some(&etag),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        call.sort();
        refused.sort();

        let mode = if quick { "quick" } else { "full" };
        let base = rows[0].peak;
        println!("\nGatehouse IdP on each store ({mode}, {workers} clients)");
        println!(
            "{:<26} {:>14} {:>12} {:>10} {:>8}",
            "setup", "exchanges/s", "p99 ms", "× SQLite", "failed"
        );
        println!("{:-<74}", "");
        for r in &rows {
            println!(
                "{:<26} {:>14.0} {:>12.2} {:>10.2} {:>8}",
                r.setup,
                r.peak,
                r.p99,
                r.peak / base,
                r.failed
            );
        }
        println!("\nsuspend on node A → refused on node B ({pairs} times)");
        println!("{:<40} {:>10} {:>10}", "measure (ms)", "p50", "p99");
        println!("{:-<62}", "");
        println!(
            "{:<40} {:>10.2} {:>10.2}",
            "suspend API call (baseline)",
            pct(&call, 0.5),
            pct(&call, 0.99)
        );
        println!(
            "{:<40} {:>10.2} {:>10.2}",
            "suspend call → first refusal on B",
            pct(&refused, 0.5),
            pct(&refused, 0.99)
        );
        println!();
        assert!(
            rows.iter().all(|r| r.failed == 0),
            "no request may fail under load"
        );
    });
}
