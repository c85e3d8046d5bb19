//! An in-process read cache of live connections, blocked users and the
//! directory's people, consulted by every token exchange so the hot path does
//! not go to the database. On SQLite this process is the only writer: every
//! write to `connections` calls [`ConnectionCache::invalidate`] after its
//! commit, before it is acknowledged, and what the cache holds is the truth.
//! On PostgreSQL other nodes write too, and a revoke acknowledged by any node
//! must be seen by the very next exchange on every node: there the cache holds
//! gate views each read at a gate epoch (`idp_store::gate::GateView::epoch`,
//! moved by every write the gate reads), a view from memory is [`Source::Remembered`],
//! and the exchange's audit event commits only if that epoch is still the
//! database's (`AuditLog::record_at_epoch`); if it moved, the exchange is
//! decided again on a fresh read. A refusal for want of a connection records a
//! request and may repeat without writing: its view's epoch is checked by a
//! read that begins after it asks ([`ConnectionCache::epoch_now`]).
//! A generation counter keeps a reader that raced a write from caching what it
//! read before the write (the classic stale-fill race).

use idp_store::{Connection, Db, DbResult, directory::DirectoryEntry, gate::GateView};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::oneshot;

type Key = (String, String);

/// A gate view's key: the username's key, the client, the app (if known).
type ViewKey = (String, String, Option<String>);

/// At most this many gate views are remembered (PostgreSQL); a full memory starts over.
const VIEWS_AT_MOST: usize = 65_536;

/// Where a gate view came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Read after the exchange began (or, on SQLite, from a cache its only
    /// writer keeps true): it is the truth.
    Now,
    /// From this node's memory (PostgreSQL): the truth while the gate epoch
    /// is still `epoch`, which the exchange's audit commit checks.
    Remembered { epoch: i64 },
}

impl Source {
    /// Its `source` label in `gatehouse_gate_views_total`.
    pub fn label(self) -> &'static str {
        match self {
            Source::Now => "now",
            Source::Remembered { .. } => "remembered",
        }
    }
}

/// After the audit commit found a remembered view stale, the gate reads
/// through for this long: while the epoch moves often (a SCIM sync, a bulk
/// revoke), an exchange decided from memory would mostly be decided twice.
const CHURN: Duration = Duration::from_secs(1);

/// Gate views of one gate epoch (PostgreSQL).
#[derive(Default)]
struct Views {
    epoch: i64,
    map: HashMap<ViewKey, GateView>,
    /// Until when memory is not used (see [`CHURN`]).
    read_through_until: Option<Instant>,
}

impl Views {
    /// The view of `key` to decide from at `now`, if memory may answer.
    fn remembered(&self, key: &ViewKey, now: impl FnOnce() -> Instant) -> Option<&GateView> {
        if self.read_through_until.is_some_and(|until| now() < until) {
            return None;
        }
        self.map.get(key)
    }

    /// Keeps `view` (read at its epoch) unless a newer epoch was seen already.
    fn keep(&mut self, key: ViewKey, view: &GateView) {
        if view.epoch < self.epoch {
            return;
        }
        if view.epoch > self.epoch || self.map.len() >= VIEWS_AT_MOST {
            self.map.clear();
            self.epoch = view.epoch;
        }
        self.map.insert(key, view.clone());
    }

    /// Forgets every view read before `epoch`, and reads through for [`CHURN`].
    fn forget_before(&mut self, epoch: i64, now: Instant) {
        if self.epoch < epoch {
            self.map.clear();
            self.epoch = epoch;
        }
        self.read_through_until = Some(now + CHURN);
    }
}

/// Whether the gate may answer from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A remembered view will do; its epoch is checked at the audit commit.
    Remembered,
    /// Read what is true now.
    Now,
}

/// Reads of the gate epoch under way (PostgreSQL): who waits for the next one.
#[derive(Default)]
struct Probe {
    running: bool,
    waiting: Vec<oneshot::Sender<Result<i64, String>>>,
}

#[derive(Default)]
pub struct ConnectionCache {
    generation: AtomicU64,
    entries: RwLock<HashMap<Key, Option<Connection>>>,
    views: RwLock<Views>,
    probe: Arc<Mutex<Probe>>,
    /// Users cut off by the help desk; `None` until first loaded.
    blocked: RwLock<Option<std::collections::HashSet<String>>>,
    /// People by lower-cased username (`None`: no such person).
    people: RwLock<HashMap<String, Option<DirectoryEntry>>>,
}

impl ConnectionCache {
    /// The live connection of (client, app), from the cache or the store.
    pub async fn live(
        &self,
        store: &Db,
        client_id: &str,
        app: &str,
    ) -> DbResult<Option<Connection>> {
        if store.backend() == idp_store::Backend::Postgres {
            return store.live_connection(client_id, app).await;
        }
        let key = (client_id.to_owned(), app.to_owned());
        self.read_through(&self.entries, key, store.live_connection(client_id, app))
            .await
    }

    /// `map[key]`, else what `load` reads, kept unless a write was
    /// invalidated while it read (the generation moved).
    async fn read_through<K: std::hash::Hash + Eq, V: Clone>(
        &self,
        map: &RwLock<HashMap<K, V>>,
        key: K,
        load: impl std::future::Future<Output = DbResult<V>>,
    ) -> DbResult<V> {
        if let Some(hit) = read(map).get(&key) {
            return Ok(hit.clone());
        }
        let seen = self.generation.load(Ordering::Acquire);
        let found = load.await?;
        let mut entries = write(map);
        if self.generation.load(Ordering::Acquire) == seen {
            entries.insert(key, found.clone());
        }
        Ok(found)
    }

    /// Whether the help desk has cut `username` off.
    pub async fn is_blocked(&self, store: &Db, username: &str) -> DbResult<bool> {
        if store.backend() == idp_store::Backend::Postgres {
            return store.is_blocked(username).await;
        }
        if let Some(set) = read(&self.blocked).as_ref() {
            return Ok(set.contains(username));
        }
        let seen = self.generation.load(Ordering::Acquire);
        let all = store.blocked_users().await?;
        let set: std::collections::HashSet<String> = all.into_iter().collect();
        let blocked = set.contains(username);
        let mut slot = write(&self.blocked);
        if self.generation.load(Ordering::Acquire) == seen {
            *slot = Some(set);
        }
        Ok(blocked)
    }

    /// The person behind `username` (any case) as the gate sees them.
    pub async fn person(&self, store: &Db, username: &str) -> DbResult<Option<DirectoryEntry>> {
        if store.backend() == idp_store::Backend::Postgres {
            return store.directory_entry(username).await;
        }
        let key = idp_store::directory::name_key(username);
        self.read_through(&self.people, key, store.directory_entry(username))
            .await
    }

    /// What the exchange's gate reads: the person behind `username`, whether
    /// they are blocked, and the live connection of (client, app) when the
    /// audience named a known app. On PostgreSQL one statement reads it all,
    /// and the view is remembered (see the module's first lines); one from
    /// memory answers unless `want` is [`Want::Now`] or a remembered view was
    /// found stale in the last [`CHURN`]; on SQLite, the cache.
    pub async fn gate(
        &self,
        store: &Db,
        username: &str,
        client_id: &str,
        app: Option<&str>,
        want: Want,
    ) -> DbResult<(GateView, Source)> {
        if store.backend() == idp_store::Backend::Postgres {
            let key = (
                idp_store::directory::name_key(username),
                client_id.to_owned(),
                app.map(str::to_owned),
            );
            if want == Want::Remembered
                && let Some(v) = read(&self.views).remembered(&key, Instant::now)
            {
                return Ok((v.clone(), Source::Remembered { epoch: v.epoch }));
            }
            let seen = self.generation.load(Ordering::Acquire);
            let view = store.gate_view(username, client_id, app).await?;
            let mut views = write(&self.views);
            if self.generation.load(Ordering::Acquire) == seen {
                views.keep(key, &view);
            }
            return Ok((view, Source::Now));
        }
        let person = self.person(store, username).await?;
        let blocked = match &person {
            Some(p) => self.is_blocked(store, &p.username).await?,
            None => false,
        };
        let connection = match app {
            Some(app) => self.live(store, client_id, app).await?,
            None => None,
        };
        Ok((
            GateView {
                person,
                blocked,
                connection,
                epoch: 0,
            },
            Source::Now,
        ))
    }

    /// The gate epoch, read by a statement that begins after this call (so
    /// after the exchange asking began): callers that ask while a read is
    /// under way share the next one, one round trip for them all.
    pub async fn epoch_now(&self, store: &Db) -> DbResult<i64> {
        let (done, answer) = oneshot::channel();
        let lead = {
            let mut probe = lock(&self.probe);
            probe.waiting.push(done);
            !std::mem::replace(&mut probe.running, true)
        };
        if lead {
            tokio::spawn(read_epochs(store.clone(), self.probe.clone()));
        }
        let read = answer
            .await
            .unwrap_or_else(|_| Err("the gate epoch read stopped".to_owned()));
        read.map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))
    }

    /// Forgets every gate view read before `epoch` (the audit commit found the
    /// gate epoch moved past the one an exchange decided on), and reads
    /// through for a while (see [`CHURN`]).
    pub fn forget_views_before(&self, epoch: i64) {
        write(&self.views).forget_before(epoch, Instant::now());
    }

    /// Forgets everything; call after every committed write to `connections`,
    /// `user_blocks` or the directory.
    pub fn invalidate(&self) {
        let mut entries = write(&self.entries);
        let mut blocked = write(&self.blocked);
        let mut people = write(&self.people);
        let mut views = write(&self.views);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        *blocked = None;
        people.clear();
        views.map.clear();
    }
}

/// A lock's guard even if a thread panicked while it held it: every map here
/// holds copies of the store's answers, each inserted or cleared whole, so a
/// poisoned lock guards nothing half-written.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the gate epoch for everyone waiting, again while more wait: each
/// read begins after every call it answers was made.
async fn read_epochs(store: Db, probe: Arc<Mutex<Probe>>) {
    loop {
        let waiting = {
            let mut p = lock(&probe);
            if p.waiting.is_empty() {
                p.running = false;
                return;
            }
            std::mem::take(&mut p.waiting)
        };
        let read = store.gate_epoch().await.map_err(|e| e.to_string());
        for done in waiting {
            let _ = done.send(read.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use admin_api::{ConnectionStatus, ScopeCondition};
    use idp_store::connections::{self, NewConnection};

    fn view(epoch: i64) -> GateView {
        GateView {
            person: None,
            blocked: false,
            connection: None,
            epoch,
        }
    }

    #[test]
    fn remembered_views_are_of_the_newest_epoch_and_rest_a_while_after_a_stale_one() {
        let key = |u: &str| (u.to_owned(), "agent".to_owned(), Some("docs".to_owned()));
        let t0 = Instant::now();
        let mut views = Views::default();
        views.keep(key("alice"), &view(5));
        views.keep(key("bob"), &view(5));
        assert_eq!(
            views.remembered(&key("alice"), || t0).map(|v| v.epoch),
            Some(5)
        );
        // A read at an older epoch (it raced a newer one) is not kept...
        views.keep(key("carol"), &view(4));
        assert!(views.remembered(&key("carol"), || t0).is_none());
        // ...and one at a newer epoch drops every older view.
        views.keep(key("carol"), &view(6));
        assert!(views.remembered(&key("alice"), || t0).is_none());
        assert_eq!(
            views.remembered(&key("carol"), || t0).map(|v| v.epoch),
            Some(6)
        );

        // The audit commit found epoch 6 stale: nothing of it or before stays,
        // a late read at 6 is not kept, and memory rests for CHURN.
        views.forget_before(7, t0);
        views.keep(key("bob"), &view(6));
        assert!(views.remembered(&key("bob"), || t0 + CHURN).is_none());
        views.keep(key("bob"), &view(7));
        assert!(views.remembered(&key("bob"), || t0).is_none(), "resting");
        assert!(
            views.remembered(&key("bob"), || t0 + CHURN / 2).is_none(),
            "resting"
        );
        assert_eq!(
            views
                .remembered(&key("bob"), || t0 + CHURN)
                .map(|v| v.epoch),
            Some(7),
            "after CHURN memory answers again"
        );
    }

    #[tokio::test]
    async fn a_write_followed_by_invalidate_is_seen_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.sqlite").display());
        let store = Db::open(&url).await.unwrap();
        let cache = ConnectionCache::default();
        assert!(cache.live(&store, "c", "docs").await.unwrap().is_none());
        let seed = NewConnection::new("c", "docs", &ScopeCondition::All);
        store.seed_connection(&seed, 1).await.unwrap();
        assert!(
            cache.live(&store, "c", "docs").await.unwrap().is_none(),
            "cached absence until invalidated"
        );
        cache.invalidate();
        let live = cache
            .live(&store, "c", "docs")
            .await
            .unwrap()
            .expect("seen after invalidate");
        let mut tx = store.begin_write().await.unwrap();
        connections::set_status(&mut tx, &live.id, ConnectionStatus::Revoked, "test", 2)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        cache.invalidate();
        assert!(
            cache.live(&store, "c", "docs").await.unwrap().is_none(),
            "a revoke is seen at once"
        );
    }
}
