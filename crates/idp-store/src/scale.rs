//! Bulk rows for benchmarks and the console's scale tests: many connections and
//! a long pending queue written in one transaction (the way a busy tenant's
//! database looks after months, not the way it got there).

use crate::{Db, DbResult, json, sql};

/// A connection to write as it is.
pub struct BulkConnection {
    pub id: String,
    pub client_id: String,
    pub resource_app: String,
    pub scopes: Vec<String>,
    pub allowed_groups: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A pending request to write as it is, with one user.
pub struct BulkRequest {
    pub id: String,
    pub client_id: String,
    pub resource_app: String,
    pub scopes: Vec<String>,
    pub refused_count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub username: String,
    pub groups: Vec<String>,
}

impl Db {
    /// Writes the rows in one transaction.
    pub async fn bulk_insert(
        &self,
        connections: &[BulkConnection],
        requests: &[BulkRequest],
    ) -> DbResult<()> {
        let b = self.backend();
        let mut tx = self.begin_write().await?;
        for c in connections {
            sqlx::query(sql(
                b,
                "INSERT INTO connections (id, client_id, resource_app, scope_condition, allowed_groups, allowed_resources, step_up, status, approved_by, justification, created_at, updated_at, last_used_at)
                 VALUES (?, ?, ?, ?, ?, '[]', '[]', 'active', '[\"carol\"]', NULL, ?, ?, ?)",
            ))
            .bind(&c.id)
            .bind(&c.client_id)
            .bind(&c.resource_app)
            .bind(json(&admin_api::ScopeCondition::IncludeOnly(c.scopes.clone())))
            .bind(json(&c.allowed_groups))
            .bind(c.created_at)
            .bind(c.created_at)
            .bind(c.last_used_at)
            .execute(&mut *tx)
            .await?;
        }
        for r in requests {
            sqlx::query(sql(
                b,
                "INSERT INTO connection_requests (id, client_id, resource_app, refused_count, first_seen, last_seen, justification, status)
                 VALUES (?, ?, ?, ?, ?, ?, NULL, 'pending')",
            ))
            .bind(&r.id)
            .bind(&r.client_id)
            .bind(&r.resource_app)
            .bind(r.refused_count)
            .bind(r.first_seen)
            .bind(r.last_seen)
            .execute(&mut *tx)
            .await?;
            for s in &r.scopes {
                sqlx::query(sql(
                    b,
                    "INSERT INTO connection_request_scopes (request_id, scope) VALUES (?, ?)",
                ))
                .bind(&r.id)
                .bind(s)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(sql(
                b,
                "INSERT INTO connection_request_users (request_id, username, groups, refused_count, first_seen, last_seen) VALUES (?, ?, ?, 1, ?, ?)",
            ))
            .bind(&r.id)
            .bind(&r.username)
            .bind(json(&r.groups))
            .bind(r.first_seen)
            .bind(r.last_seen)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
