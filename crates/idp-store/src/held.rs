//! A few PostgreSQL connections held out of the pool for the one read every
//! token exchange makes (the gate). sqlx pings a connection as it hands it out
//! and pings it again as it takes it back, so one statement through the pool
//! is three round trips, each waking a backend on a machine the IdP shares
//! with its database. A held connection runs the statement alone.
//!
//! What the pool's pings were for is kept: a connection idle for
//! [`FRESH_FOR`] or longer goes back through the pool (pinged there) instead
//! of being used; one whose statement failed, or whose future was dropped
//! mid-statement, is never held again (dropping it hands it to sqlx, which
//! pings and closes it if broken); and a read that failed on a held
//! connection because the connection was lost is retried once through the
//! pool (reads only: retrying them changes nothing).

use crate::{Backend, Db, DbResult};
use sqlx::{Any, IntoArguments, any::AnyRow, pool::PoolConnection, query::Query};
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// How many connections are held at most (each counts against the pool's size).
const KEEP: usize = 4;

/// A held connection used again within this long is taken as alive (the
/// pool pinged it when it was first handed out; HikariCP's rule is the same).
const FRESH_FOR: Duration = Duration::from_millis(500);

/// Idle held connections, newest last.
#[derive(Default)]
pub(crate) struct Held {
    idle: Mutex<Vec<(PoolConnection<Any>, Instant)>>,
}

impl Held {
    /// The newest idle connection if it is fresh; stale ones go back to the pool.
    pub(crate) fn take(&self) -> Option<PoolConnection<Any>> {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> Option<PoolConnection<Any>> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (conn, since) = idle.pop()?;
        if now.saturating_duration_since(since) < FRESH_FOR {
            return Some(conn);
        }
        // The newest is stale, so all are: the pool pings them on return.
        let stale: Vec<_> = idle.drain(..).collect();
        drop(idle);
        drop((conn, stale));
        None
    }

    /// Holds `conn` after a statement succeeded on it (or returns it to the pool when full).
    pub(crate) fn keep(&self, conn: PoolConnection<Any>) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < KEEP {
            idle.push((conn, Instant::now()));
        }
    }
}

impl Db {
    /// `query`'s one row, read on a held connection on PostgreSQL (through
    /// the pool on SQLite, whose connections cost no round trip). `query`
    /// builds the statement again for the retry.
    pub(crate) async fn fetch_one_held<'q, A>(
        &self,
        query: impl Fn() -> Query<'q, Any, A>,
    ) -> DbResult<AnyRow>
    where
        A: IntoArguments<Any> + 'q,
    {
        if self.backend() == Backend::Sqlite {
            return query().fetch_one(self.pool()).await;
        }
        let Some(mut conn) = self.held.take() else {
            let mut conn = self.acquire().await?;
            let row = query().fetch_one(&mut *conn).await?;
            self.held.keep(conn);
            return Ok(row);
        };
        match query().fetch_one(&mut *conn).await {
            Ok(row) => {
                self.held.keep(conn);
                Ok(row)
            }
            Err(e) if connection_lost(&e) => {
                drop(conn);
                query().fetch_one(self.pool()).await
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether `e` says the connection itself is gone (not the statement's fault).
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_)
    ) || matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("57P")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Db;

    async fn db() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&crate::sqlite_url(&dir.path().join("t.sqlite")))
            .await
            .unwrap();
        (db, dir)
    }

    fn held_count(h: &Held) -> usize {
        h.idle.lock().unwrap().len()
    }

    #[tokio::test]
    async fn a_kept_connection_is_taken_again_while_fresh_and_never_after() {
        let (db, _dir) = db().await;
        let held = Held::default();
        assert!(held.take().is_none(), "nothing held yet");
        held.keep(db.acquire().await.unwrap());
        held.keep(db.acquire().await.unwrap());
        let kept_at = Instant::now();
        assert!(held.take_at(kept_at).is_some(), "fresh: handed out as is");
        assert_eq!(held_count(&held), 1);
        assert!(
            held.take_at(kept_at + FRESH_FOR).is_none(),
            "idle for FRESH_FOR: back through the pool's ping instead"
        );
        assert_eq!(held_count(&held), 0, "the stale ones were all let go");
    }

    #[tokio::test]
    async fn at_most_keep_connections_are_held() {
        let (db, _dir) = db().await;
        let held = Held::default();
        for _ in 0..KEEP + 2 {
            held.keep(db.acquire().await.unwrap());
        }
        assert_eq!(held_count(&held), KEEP);
    }
}
