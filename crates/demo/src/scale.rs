//! A large store for benchmarks: many AI app clients connected to the seeded
//! resource apps, and a long pending queue, written straight into the demo IdP's
//! database in one transaction (the way a busy tenant's database looks after
//! months, not the way it got there). Clients are synthetic ids (`agent-00001`),
//! shown by id, as the admin API does for clients it has no name for.

use crate::{Demo, world};
use idp::store::scale::{BulkConnection, BulkRequest};

/// What was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub connections: usize,
    pub pending: usize,
}

/// Adds `connections` active connections and `pending` pending requests.
pub async fn seed(demo: &Demo, connections: usize, pending: usize) -> Result<Scale, sqlx::Error> {
    let apps = world::APPS;
    let now = demo.idp.now();
    let groups = ["engineering", "sales", "support", "finance", "employees"];
    let conns: Vec<BulkConnection> = (0..connections)
        .map(|i| {
            let app = &apps[i % apps.len()];
            // One to all of the app's scopes, so risk filters have something to find.
            let n = 1 + (i / 7) % app.scopes.len();
            BulkConnection {
                id: format!("conn_scale{i:08}"),
                client_id: format!("agent-{:06}", i / apps.len() + 1),
                resource_app: app.id.into(),
                scopes: app.scopes[..n].iter().map(|s| s.0.to_string()).collect(),
                allowed_groups: vec![groups[i % groups.len()].into()],
                created_at: now - (i as i64 % 86_400) * 30,
                last_used_at: (i % 3 != 0).then_some(now - (i as i64 % 5000) * 60),
            }
        })
        .collect();
    let first_pending_client = connections / apps.len() + 2;
    let requests: Vec<BulkRequest> = (0..pending)
        .map(|i| {
            let app = &apps[i % apps.len()];
            let user = &world::USERS[i % world::USERS.len()];
            BulkRequest {
                id: format!("req_scale{i:08}"),
                client_id: format!("agent-{:06}", first_pending_client + i / apps.len()),
                resource_app: app.id.into(),
                scopes: app
                    .scopes
                    .iter()
                    .take(1 + i % 2)
                    .map(|s| s.0.to_string())
                    .collect(),
                refused_count: 1 + (i % 9) as i64,
                first_seen: now - (i as i64 % 20_000) * 13,
                last_seen: now,
                username: user.username.into(),
                groups: user.groups.iter().map(|g| (*g).into()).collect(),
            }
        })
        .collect();
    demo.idp.store.bulk_insert(&conns, &requests).await?;
    Ok(Scale {
        connections,
        pending,
    })
}
