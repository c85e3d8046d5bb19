//! `change_events`: what changed, for the admin API's event stream and its
//! `Last-Event-ID` resume. Ids are drawn under the writer lock, so on every node
//! they follow commit order: the last id a reader got is where it resumes. On
//! PostgreSQL every change also notifies the channel other nodes listen on.

use crate::{Backend, Conn, Db, DbResult, lock_writer, sql};
use admin_api::{ChangeEvent, ChangeKind};

/// The PostgreSQL channel changes are announced on.
const CHANNEL: &str = "gatehouse_changes";

/// Tells this node that another one committed changes (PostgreSQL `LISTEN` on
/// its own connection; it reconnects by itself, and notifications sent while it
/// was away are lost, so readers also poll).
pub struct ChangeListener(sqlx::postgres::PgListener);

impl ChangeListener {
    pub(crate) async fn connect(url: &str) -> DbResult<Self> {
        let mut l = sqlx::postgres::PgListener::connect(url).await?;
        l.listen(CHANNEL).await?;
        Ok(Self(l))
    }

    /// Waits for the next announcement of a commit with changes.
    pub async fn next(&mut self) -> DbResult<()> {
        self.0.recv().await.map(|_| ())
    }
}

/// Records a change in the caller's transaction; returns the event to publish
/// after commit.
pub async fn record(
    tx: &mut Conn,
    kind: ChangeKind,
    target: &str,
    at_ms: i64,
) -> DbResult<ChangeEvent> {
    lock_writer(tx).await?;
    let id: i64 = sqlx::query_scalar(sql(
        Backend::of(tx),
        "INSERT INTO change_events (kind, target, at_ms) VALUES (?, ?, ?) RETURNING id",
    ))
    .bind(kind.as_str())
    .bind(target)
    .bind(at_ms)
    .fetch_one(&mut *tx)
    .await?;
    if Backend::of(tx) == Backend::Postgres {
        // Delivered at commit (and not at all on rollback); repeats in one
        // transaction are delivered once.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *tx)
            .await?;
    }
    Ok(ChangeEvent {
        id,
        kind,
        target: target.into(),
        at_ms,
    })
}

impl Db {
    /// Changes after `last`, oldest first, at most `limit`.
    pub async fn changes_after(&self, last: i64, limit: i64) -> DbResult<Vec<ChangeEvent>> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(sql(
            self.backend(),
            "SELECT id, kind, target, at_ms FROM change_events WHERE id > ? ORDER BY id LIMIT ?",
        ))
        .bind(last)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(id, kind, target, at_ms)| {
                Ok(ChangeEvent {
                    id,
                    kind: crate::known_status(ChangeKind::parse(&kind), &kind, "change kind")?,
                    target,
                    at_ms,
                })
            })
            .collect()
    }

    /// The newest change id (0 when there is none).
    pub async fn last_change_id(&self) -> DbResult<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM change_events")
            .fetch_one(self.pool())
            .await?;
        Ok(id.unwrap_or(0))
    }
}
