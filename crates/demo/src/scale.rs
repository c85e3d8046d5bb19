//! A large store for benchmarks: many AI app clients connected to the seeded
//! resource apps, and a long pending queue, written straight into the demo IdP's
//! SQLite file in one transaction (the way a busy tenant's database looks after
//! months, not the way it got there). Clients are synthetic ids (`agent-00001`),
//! shown by id, as the admin API does for clients it has no name for.

use crate::{Demo, world};
use admin_api::ScopeCondition;

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
    let mut tx = demo.idp.store.pool.begin().await?;
    let groups = ["engineering", "sales", "support", "finance", "employees"];
    for i in 0..connections {
        let app = &apps[i % apps.len()];
        let client = format!("agent-{:06}", i / apps.len() + 1);
        // One to all of the app's scopes, so risk filters have something to find.
        let n = 1 + (i / 7) % app.scopes.len();
        let scopes: Vec<String> = app.scopes[..n].iter().map(|s| s.0.to_string()).collect();
        sqlx::query(
            "INSERT INTO connections (id, client_id, resource_app, scope_condition, allowed_groups, allowed_resources, step_up, status, approved_by, justification, created_at, updated_at, last_used_at)
             VALUES (?, ?, ?, ?, ?, '[]', '[]', 'active', '[\"carol\"]', NULL, ?, ?, ?)",
        )
        .bind(format!("conn_scale{i:08}"))
        .bind(&client)
        .bind(app.id)
        .bind(serde_json::to_string(&ScopeCondition::IncludeOnly(scopes)).expect("json"))
        .bind(serde_json::to_string(&[groups[i % groups.len()]]).expect("json"))
        .bind(now - (i as i64 % 86_400) * 30)
        .bind(now - (i as i64 % 86_400) * 30)
        .bind((i % 3 != 0).then_some(now - (i as i64 % 5000) * 60))
        .execute(&mut *tx)
        .await?;
    }
    let first_pending_client = connections / apps.len() + 2;
    for i in 0..pending {
        let app = &apps[i % apps.len()];
        let id = format!("req_scale{i:08}");
        let seen = now - (i as i64 % 20_000) * 13;
        sqlx::query(
            "INSERT INTO connection_requests (id, client_id, resource_app, refused_count, first_seen, last_seen, justification, status)
             VALUES (?, ?, ?, ?, ?, ?, NULL, 'pending')",
        )
        .bind(&id)
        .bind(format!("agent-{:06}", first_pending_client + i / apps.len()))
        .bind(app.id)
        .bind(1 + (i % 9) as i64)
        .bind(seen)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for s in app.scopes.iter().take(1 + i % 2) {
            sqlx::query("INSERT INTO connection_request_scopes (request_id, scope) VALUES (?, ?)")
                .bind(&id)
                .bind(s.0)
                .execute(&mut *tx)
                .await?;
        }
        let user = &world::USERS[i % world::USERS.len()];
        sqlx::query(
            "INSERT INTO connection_request_users (request_id, username, groups, refused_count, first_seen, last_seen) VALUES (?, ?, ?, 1, ?, ?)",
        )
        .bind(&id)
        .bind(user.username)
        .bind(serde_json::to_string(user.groups).expect("json"))
        .bind(seen)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Scale {
        connections,
        pending,
    })
}
