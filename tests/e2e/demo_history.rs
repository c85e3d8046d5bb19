//! The demo's 90 days of history: planned from a seed alone (the same seed,
//! the same world; another seed, another), and written into a running demo
//! so that every screen has something to show: people and clients by the
//! dozen, an orphaned client, usage in the map and charts, findings, a
//! pending queue of every age, decisions over two weeks, and an audit chain
//! that still verifies.

use demo::history;
use gatehouse_tests::*;

#[test]
fn the_same_seed_plans_the_same_history_and_another_seed_another() {
    let a = history::plan(7);
    assert_eq!(a, history::plan(7));
    assert_ne!(a, history::plan(8));
    assert!(a.people.len() >= 150, "{}", a.people.len());
    assert_eq!(a.clients.len(), 20);
    assert!(a.connections.len() >= 40, "{}", a.connections.len());
    assert!(a.exchanges.len() >= 1_000, "{}", a.exchanges.len());
    // Some idle, some over-granted.
    assert!(
        a.connections
            .iter()
            .any(|c| c.idle_days.is_none_or(|d| d > 30))
    );
    assert!(a.connections.iter().any(|c| c.used.len() < c.scopes.len()));
}

#[tokio::test]
async fn the_history_fills_every_screen() {
    let d = start_demo().await;
    let started = std::time::Instant::now();
    let h = history::seed(&d, 7).await.unwrap();
    eprintln!(
        "history seeded in {} ms: {h:?}",
        started.elapsed().as_millis()
    );
    let plan = history::plan(7);
    assert_eq!(
        (h.people, h.clients, h.connections, h.exchanges),
        (
            plan.people.len(),
            plan.clients.len(),
            plan.connections.len(),
            plan.exchanges.len()
        )
    );
    let judy = admin_session(&d.info, "judy", false).await;
    let clients: Vec<admin_api::ClientView> = judy.get_json("/clients", &[]).await.unwrap();
    let orphaned: Vec<&str> = clients
        .iter()
        .filter(|c| c.orphaned)
        .map(|c| c.client_id.as_str())
        .collect();
    assert_eq!(orphaned, [history::ORPHANED]);
    assert!(clients.len() >= 25);
    let apps: Vec<admin_api::ResourceAppView> = judy.get_json("/resource-apps", &[]).await.unwrap();
    assert_eq!(apps.len(), 12);
    let live = judy
        .list_connections(&query(&[("status", "active".into())]))
        .await
        .unwrap()
        .total;
    assert_eq!(live as usize, 4 + h.connections);
    let kinds: std::collections::HashSet<admin_api::FindingKind> = judy
        .findings(false)
        .await
        .unwrap()
        .iter()
        .map(|f| f.kind)
        .collect();
    assert!(
        kinds.contains(&admin_api::FindingKind::UnusedScopes),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&admin_api::FindingKind::SensitiveWithoutStepUp),
        "{kinds:?}"
    );
    let stats = judy.stats().await.unwrap();
    assert!(stats.usage.len() >= 20, "{}", stats.usage.len());
    assert!(!stats.issuance.is_empty(), "ID-JAGs in the last day");
    let decided: u64 = stats.decisions.iter().map(|d| d.approved + d.denied).sum();
    assert!(decided >= 38, "{decided}");
    let aged: Vec<u64> = stats.pending_by_age.iter().map(|b| b.count).collect();
    assert!(aged.iter().filter(|n| **n > 0).count() >= 3, "{aged:?}");
    let reviews = judy.campaigns().await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        (reviews[0].decided, reviews[0].items as usize),
        (0, 4 + h.connections),
        "a review due in two days, nothing decided"
    );
    assert!(judy.audit_verify().await.unwrap().ok, "the chain holds");
}
