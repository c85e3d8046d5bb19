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
//! pool (reads only: retrying them changes nothing). Nor does a connection
//! escape the pool's own rules for long: after [`HELD_AT_MOST`] it goes back,
//! where sqlx's maximum lifetime and idle timeout apply to it again.

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

/// How long one connection stays out of the pool, however busy.
const HELD_AT_MOST: Duration = Duration::from_secs(300);

/// A connection out of the pool, and since when.
pub(crate) struct HeldConnection {
    conn: PoolConnection<Any>,
    held_since: Instant,
}

/// Idle held connections (with when each was last used), newest last.
#[derive(Default)]
pub(crate) struct Held {
    idle: Mutex<Vec<(HeldConnection, Instant)>>,
}

impl Held {
    /// The newest idle connection if it is fresh; stale ones go back to the pool.
    fn take(&self) -> Option<HeldConnection> {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> Option<HeldConnection> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (held, used) = idle.pop()?;
        if now.saturating_duration_since(used) >= FRESH_FOR {
            // The newest is stale, so all are: the pool pings them on return.
            let stale: Vec<_> = idle.drain(..).collect();
            drop(idle);
            drop((held, stale));
            return None;
        }
        if now.saturating_duration_since(held.held_since) >= HELD_AT_MOST {
            drop(idle);
            drop(held);
            return None;
        }
        Some(held)
    }

    /// Holds a connection after a statement succeeded on it (or returns it
    /// to the pool when full).
    fn keep(&self, held: HeldConnection) {
        self.keep_at(held, Instant::now());
    }

    fn keep_at(&self, held: HeldConnection, now: Instant) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < KEEP {
            idle.push((held, now));
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
        let Some(mut held) = self.held.take() else {
            let mut conn = self.acquire().await?;
            let row = query().fetch_one(&mut *conn).await?;
            self.held.keep(HeldConnection {
                conn,
                held_since: Instant::now(),
            });
            return Ok(row);
        };
        match query().fetch_one(&mut *held.conn).await {
            Ok(row) => {
                self.held.keep(held);
                Ok(row)
            }
            Err(e) if connection_lost(&e) => {
                drop(held);
                query().fetch_one(self.pool()).await
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether `e` says the connection itself is gone (not the statement's fault).
fn connection_lost(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_)
    ) || matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("57P")))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&crate::sqlite_url(&dir.path().join("t.sqlite")))
            .await
            .unwrap();
        (db, dir)
    }

    async fn fresh(db: &Db, held_since: Instant) -> HeldConnection {
        HeldConnection {
            conn: db.acquire().await.unwrap(),
            held_since,
        }
    }

    fn held_count(h: &Held) -> usize {
        h.idle.lock().unwrap().len()
    }

    #[tokio::test]
    async fn a_kept_connection_is_taken_again_while_fresh_and_never_after() {
        let (db, _dir) = db().await;
        let held = Held::default();
        assert!(held.take().is_none(), "nothing held yet");
        let now = Instant::now();
        held.keep_at(fresh(&db, now).await, now);
        held.keep_at(fresh(&db, now).await, now);
        assert!(held.take_at(now).is_some(), "fresh: handed out as is");
        assert_eq!(held_count(&held), 1);
        assert!(
            held.take_at(now + FRESH_FOR).is_none(),
            "idle for FRESH_FOR: back through the pool's ping instead"
        );
        assert_eq!(held_count(&held), 0, "the stale ones were all let go");
    }

    #[tokio::test]
    async fn a_connection_busy_all_along_still_goes_back_to_the_pool_in_time() {
        let (db, _dir) = db().await;
        let held = Held::default();
        let start = Instant::now();
        let mut now = start;
        held.keep_at(fresh(&db, start).await, now);
        // Used every 100 ms, so never stale...
        while now < start + HELD_AT_MOST - Duration::from_millis(100) {
            now += Duration::from_millis(100);
            let c = held.take_at(now).expect("fresh and young");
            held.keep_at(c, now);
        }
        // ...until it has been out of the pool for HELD_AT_MOST.
        now += Duration::from_millis(100);
        assert!(held.take_at(now).is_none());
        assert_eq!(held_count(&held), 0);
    }

    #[tokio::test]
    async fn at_most_keep_connections_are_held() {
        let (db, _dir) = db().await;
        let held = Held::default();
        let now = Instant::now();
        for _ in 0..KEEP + 2 {
            held.keep_at(fresh(&db, now).await, now);
        }
        assert_eq!(held_count(&held), KEEP);
    }
}
