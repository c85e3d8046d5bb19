//! `scope_catalogue`: the configuration's scopes and their risk ranks, mirrored
//! at every start so the database can rank connections (`risk_rank`, kept by
//! triggers) and the inventory can filter and sort by risk in SQL.

use crate::{Db, DbResult, sql};
use std::collections::BTreeSet;

/// One catalogue entry: (app, scope, rank).
pub type Entry = (String, String, i64);

impl Db {
    /// Mirrors `wanted` into the database and, when it changed since the last
    /// start, recomputes every connection's `risk_rank` from it. Returns whether
    /// it recomputed.
    pub async fn sync_scope_catalogue(&self, wanted: &BTreeSet<Entry>) -> DbResult<bool> {
        let b = self.backend();
        // The writer's lock from the start: on SQLite a deferred transaction
        // that reads and then writes fails at once (no busy wait) when another
        // writer committed in between, as the outbox pusher does after a revoke.
        let mut tx = self.begin_write().await?;
        let stored: BTreeSet<Entry> =
            sqlx::query_as("SELECT app, scope, rank FROM scope_catalogue")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        if &stored == wanted {
            return Ok(false);
        }
        sqlx::query("DELETE FROM scope_catalogue")
            .execute(&mut *tx)
            .await?;
        for (app, scope, rank) in wanted {
            sqlx::query(sql(
                b,
                "INSERT INTO scope_catalogue (app, scope, rank) VALUES (?, ?, ?)",
            ))
            .bind(app)
            .bind(scope)
            .bind(rank)
            .execute(&mut *tx)
            .await?;
        }
        // Rewriting each row's scopes unchanged runs the risk trigger (0005).
        sqlx::query("UPDATE connections SET scope_condition = scope_condition")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
