//! Audit log at size: appends N token-exchange events (the shape the exchange
//! writes) to a fresh SQLite store — and to PostgreSQL when `GATEHOUSE_POSTGRES`
//! names a server — then times `verify_audit` (what `/admin/v1/audit/verify`
//! runs: every row read, every hash recomputed, every link checked) and reports
//! the log's size per event. Before timing, one row is checked to be caught
//! when tampered with, so the figure is for a verifier that verifies.
//!
//! `cargo bench -p gatehouse-tests --bench audit_verify` (1,000,000 events);
//! `-- --quick` (100,000) in CI.

use idp::store::{Backend, Db, audit::AuditEvent};
use std::time::Instant;

fn event(n: u64) -> AuditEvent {
    let mut e = AuditEvent::new("id_jag.exchange", idp::store::audit::AuditOutcome::Success);
    e.client_id = Some(format!("agent-{}", n % 24));
    e.subject = Some(format!("user{}@example.com", n % 500));
    e.target = Some(format!("https://as.example/app-{}", n % 12));
    e.detail = serde_json::json!({
        "connection_id": format!("conn_{:032x}", n % 300),
        "scope": "tickets.read tickets.comment",
        "resource": "https://mcp.example/tickets/mcp",
        "jti": format!("{:022x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        "exp": 2_000_000_300 + n,
    });
    e
}

async fn fill(db: &Db, events: u64) {
    const BATCH: u64 = 2_000;
    let mut n = 0;
    while n < events {
        let batch: Vec<AuditEvent> = (n..(n + BATCH).min(events)).map(event).collect();
        let refs: Vec<(&AuditEvent, i64)> = batch
            .iter()
            .enumerate()
            .map(|(i, e)| (e, 1_800_000_000_000 + (n + i as u64) as i64))
            .collect();
        db.append_audit(&refs).await.unwrap();
        n += BATCH;
    }
}

/// Bytes the log takes in the database, per event.
async fn bytes_per_event(db: &Db, events: u64) -> f64 {
    use sqlx::Row;
    let bytes: i64 = match db.backend() {
        Backend::Sqlite => {
            // Table and its indexes (dbstat is not compiled in everywhere:
            // the file's pages after a checkpoint, all of them the log's here).
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(db.pool())
                .await
                .unwrap();
            let pages: i64 = sqlx::query("PRAGMA page_count")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get(0);
            let size: i64 = sqlx::query("PRAGMA page_size")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get(0);
            pages * size
        }
        Backend::Postgres => sqlx::query("SELECT pg_total_relation_size('audit_events')::BIGINT")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get(0),
    };
    bytes as f64 / events as f64
}

async fn measure(name: &str, db: Db, events: u64) -> Vec<(String, String)> {
    let filling = Instant::now();
    fill(&db, events).await;
    let fill_s = filling.elapsed().as_secs_f64();
    let per_event = bytes_per_event(&db, events).await;
    // Warm (as a running IdP's cache is), then timed.
    let report = db.verify_audit().await.unwrap();
    assert!(report.ok() && report.events == events as i64, "{report:?}");
    let verifying = Instant::now();
    let report = db.verify_audit().await.unwrap();
    let verify_s = verifying.elapsed().as_secs_f64();
    assert!(report.ok() && report.events == events as i64, "{report:?}");
    // The same verifier catches one edited row in the middle.
    let middle = events as i64 / 2;
    sqlx::query(idp::store::sql(
        db.backend(),
        "UPDATE audit_events SET subject = 'mallory' WHERE seq = ?",
    ))
    .bind(middle)
    .execute(db.pool())
    .await
    .unwrap();
    assert_eq!(db.verify_audit().await.unwrap().first_broken, Some(middle));
    vec![
        (format!("{name}: events appended"), events.to_string()),
        (
            format!("{name}: append, 2,000 a transaction (s)"),
            format!("{fill_s:.1}"),
        ),
        (
            format!("{name}: verify the chain (s)"),
            format!("{verify_s:.2}"),
        ),
        (
            format!("{name}:   events verified per second"),
            format!("{:.0}", events as f64 / verify_s),
        ),
        (
            format!("{name}:   time for 1,000,000 events at that rate (s)"),
            format!("{:.2}", 1e6 * verify_s / events as f64),
        ),
        (
            format!("{name}: bytes per event (table and indexes)"),
            format!("{per_event:.0}"),
        ),
    ]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let events: u64 = if quick { 100_000 } else { 1_000_000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Db::open(&idp::store::sqlite_url(&dir.path().join("audit.sqlite")))
            .await
            .unwrap();
        let mut rows = measure("SQLite", sqlite, events).await;
        if let Ok(server) = std::env::var("GATEHOUSE_POSTGRES") {
            let url = idp::store::create_postgres_database(&server, "gh_audit_bench")
                .await
                .unwrap();
            let pg = Db::open(&url).await.unwrap();
            rows.extend(measure("PostgreSQL", pg, events).await);
        }
        let mode = if quick { "quick" } else { "full" };
        println!("\nGatehouse audit log at size ({mode})");
        println!("{:<58} {:>10}", "measure", "value");
        println!("{:-<69}", "");
        for (k, v) in rows {
            println!("{k:<58} {v:>10}");
        }
        println!();
    });
}
