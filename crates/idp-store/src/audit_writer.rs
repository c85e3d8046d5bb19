//! The audit log's group-commit writer. Appends go through one writer that
//! commits in groups, so a caller awaits its own event's commit (nothing is
//! acknowledged before it is durable) while concurrent appends share one
//! transaction.
//!
//! On SQLite a batch is `BEGIN IMMEDIATE`, the head, the rows and `COMMIT` on
//! a connection of the writer's own (rusqlite over the same libsqlite3 as
//! sqlx; through sqlx each statement was a round trip to its worker thread, two
//! thread wake-ups apiece). The writer task commits it right where it runs,
//! when the write lock is free: in WAL mode with `synchronous = NORMAL` a
//! commit writes pages into the OS cache and syncs nothing, tens of
//! microseconds. Handing every batch to a thread of its own cost two thread
//! switches per commit, and away from peak a commit carries one or two events:
//! at 4,000 exchanges/s in open loop on one core the handoff was a fifth of the
//! server's CPU. A batch that finds the lock taken goes to the writer's
//! thread, which waits for it: the task must never wait for a lock on a
//! runtime thread, whose holder may be a task waiting for that very thread (a
//! sqlx transaction on a one-thread runtime: a deadlock until the busy
//! timeout). On PostgreSQL the writer is a task over one pooled connection;
//! while no other writer appended since its last batch, a batch is one
//! autocommitted statement (see [`crate::audit::append_after`]), else a
//! transaction that locks, reads the head and inserts.
//!
//! An event may be appended at a gate epoch ([`AuditAppender::append_at_epoch`]):
//! the token exchange decided from a view of the gate this node kept in
//! memory, and its event (and so its answer) stands only if nothing the gate
//! reads changed since. The check is part of the batch's commit: the one
//! statement inserts only while the epoch is the one the batch's exchanges
//! saw, and otherwise the transaction that follows writes the batch's other
//! events and hands those exchanges back to decide again.

use crate::{
    Backend, Db, DbResult,
    audit::{AuditEvent, ChainedRow, HEAD, INSERT_ONE, chain},
};
use std::path::PathBuf;
use tokio::sync::{mpsc, oneshot};

/// At most this many events share one transaction.
const BATCH: usize = 256;

/// An event, when it happened, the gate epoch it stands on (if any), and
/// where its sequence number goes (`None`: the epoch had moved, not written).
type Job = (
    AuditEvent,
    i64,
    Option<i64>,
    oneshot::Sender<Result<Option<i64>, String>>,
);

/// A handle to the running writer; cloning shares it. The writer (task and
/// thread) stops when the last handle is dropped.
#[derive(Clone)]
pub struct AuditAppender {
    tx: mpsc::Sender<Job>,
}

impl AuditAppender {
    /// Starts the writer for `db`: a task that gathers batches, committing
    /// them on its own thread (a SQLite file) or connection (PostgreSQL).
    pub async fn start(db: &Db) -> DbResult<Self> {
        let (tx, rx) = mpsc::channel(4096);
        let sink = match db.sqlite_path() {
            Some(path) => {
                // Opened here so a file the writer cannot use fails the start.
                let here = open_here(&path).map_err(to_sqlx)?;
                let conn = open_sqlite(&path).map_err(to_sqlx)?;
                // Tokio's channel parks the thread on a condition variable;
                // std's spins and yields first, which on a busy core took
                // CPU from the tasks the thread was waiting for.
                let (batches, todo) = mpsc::channel(1);
                let thread_path = path.clone();
                std::thread::Builder::new()
                    .name("gatehouse-audit".into())
                    .spawn(move || sqlite_thread(thread_path, conn, todo))
                    .map_err(sqlx::Error::Io)?;
                Sink::Sqlite {
                    here: Some(here),
                    path,
                    thread: batches,
                }
            }
            None => Sink::Pooled {
                db: db.clone(),
                conn: None,
            },
        };
        tokio::spawn(gather(sink, rx));
        Ok(Self { tx })
    }

    /// Appends `event` and waits until it is committed; returns its sequence number.
    pub async fn append(&self, event: AuditEvent, at_ms: i64) -> Result<i64, String> {
        self.send(event, at_ms, None)
            .await?
            .ok_or_else(|| "the writer held back an event that stands on nothing".to_owned())
    }

    /// Appends `event` only if the gate epoch is still `epoch` when it
    /// commits (PostgreSQL; see [`crate::gate::GateView::epoch`]), and waits.
    /// `Ok(None)`: the epoch has moved, nothing was written, and what was
    /// decided from the older view must be decided again on a fresh read.
    pub async fn append_at_epoch(
        &self,
        event: AuditEvent,
        at_ms: i64,
        epoch: i64,
    ) -> Result<Option<i64>, String> {
        self.send(event, at_ms, Some(epoch)).await
    }

    async fn send(
        &self,
        event: AuditEvent,
        at_ms: i64,
        epoch: Option<i64>,
    ) -> Result<Option<i64>, String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((event, at_ms, epoch, done))
            .await
            .map_err(|_| "the writer has stopped".to_owned())?;
        wait.await
            .map_err(|_| "the writer has stopped".to_owned())?
    }
}

/// A batch for the SQLite thread and where its outcome (the last sequence number) goes.
type ThreadBatch = (Vec<(AuditEvent, i64)>, oneshot::Sender<Result<i64, String>>);

/// Where batches are committed.
enum Sink {
    /// A SQLite file: the task's own connection while the write lock is
    /// free (after a failure the next batch opens a new one), else the writer thread.
    Sqlite {
        here: Option<rusqlite::Connection>,
        path: PathBuf,
        thread: mpsc::Sender<ThreadBatch>,
    },
    /// One pooled connection, kept; after a failure the next batch takes a new one.
    Pooled { db: Db, conn: Option<PooledWriter> },
}

/// One batch: the events in order, each flagged when it stands on the gate
/// epoch, and that epoch (the newest any of them saw).
struct Batch {
    events: Vec<(AuditEvent, i64, bool)>,
    epoch: Option<i64>,
}

impl Sink {
    /// Commits `batch`; returns the last sequence number written and whether
    /// the epoch held (if not, only the events not standing on it were written).
    async fn commit(&mut self, batch: Batch) -> Result<(i64, bool), String> {
        match self {
            // Nothing moves the epoch on SQLite (see `GateView::epoch`).
            Sink::Sqlite { here, path, thread } => {
                let events: Vec<(AuditEvent, i64)> =
                    batch.events.into_iter().map(|(e, at, _)| (e, at)).collect();
                let refs: Vec<(&AuditEvent, i64)> = events.iter().map(|(e, at)| (e, *at)).collect();
                match append_on(here, || open_here(path), &refs, lock_taken) {
                    Ok(last) => return Ok((last, true)),
                    // Nothing of the batch is committed: the thread waits for the lock.
                    Err(e) if lock_taken(&e) => {}
                    Err(e) => return Err(e.to_string()),
                }
                let (done, wait) = oneshot::channel();
                thread
                    .send((events, done))
                    .await
                    .map_err(|_| "the audit writer thread has stopped".to_owned())?;
                let last = wait
                    .await
                    .map_err(|_| "the audit writer thread has stopped".to_owned())??;
                Ok((last, true))
            }
            Sink::Pooled { db, conn } => {
                let refs: Vec<(&AuditEvent, i64, bool)> = batch
                    .events
                    .iter()
                    .map(|(e, at, on)| (e, *at, *on))
                    .collect();
                let writer = match conn.take() {
                    Some(w) => Ok(w),
                    None => db.audit_writer().await,
                };
                let appended = match writer {
                    Ok(mut w) => w
                        .append_at_epoch(&refs, batch.epoch)
                        .await
                        .inspect(|_| *conn = Some(w)),
                    Err(e) => Err(e),
                };
                appended
                    .map(|((last, _), held)| (last, held))
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// The writer task: takes whatever is queued (up to [`BATCH`]; on one core,
/// everything the other tasks produced since it last ran), commits it in one
/// transaction and answers each caller with its sequence number or the error.
async fn gather(mut sink: Sink, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut jobs, BATCH).await > 0 {
        // Let the tasks that are ready run first: what they append joins this
        // batch. Again while that brings more (a few times at most).
        for _ in 0..4 {
            tokio::task::yield_now().await;
            let before = jobs.len();
            while jobs.len() < BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if jobs.len() == before || jobs.len() == BATCH {
                break;
            }
        }
        // The epoch only moves forward: an event that stands on an older one
        // than another in the batch saw stands on a view that is gone.
        let epoch = jobs.iter().filter_map(|j| j.2).max();
        let mut events = Vec::with_capacity(jobs.len());
        let mut waiting = Vec::with_capacity(jobs.len());
        for (e, at, on, done) in jobs.drain(..) {
            if on.is_some() && on < epoch {
                let _ = done.send(Ok(None));
                continue;
            }
            events.push((e, at, on.is_some()));
            waiting.push((on.is_some(), done));
        }
        if waiting.is_empty() {
            continue;
        }
        match sink.commit(Batch { events, epoch }).await {
            Ok((last, held)) => {
                let written = waiting.iter().filter(|(on, _)| held || !on).count();
                let mut seq = last - written as i64 + 1;
                for (on, done) in waiting {
                    if on && !held {
                        let _ = done.send(Ok(None));
                    } else {
                        let _ = done.send(Ok(Some(seq)));
                        seq += 1;
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit batch failed; nothing in it was acknowledged");
                for (_, done) in waiting {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
    }
}

fn to_sqlx(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Protocol(format!("audit writer: {e}"))
}

fn open_sqlite(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = crate::checkpoint::open(path)?;
    c.set_prepared_statement_cache_capacity(8);
    Ok(c)
}

/// The writer task's connection: a lock it cannot take at once is an error
/// (`SQLITE_BUSY`), never a wait on the runtime's thread.
fn open_here(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = open_sqlite(path)?;
    c.busy_handler(None)?;
    Ok(c)
}

/// Whether `e` says another connection holds a lock the batch needed.
fn lock_taken(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// The SQLite writer thread: commits each batch it is handed on its own
/// connection; after a failure the next batch opens a new one. Ends when the
/// writer task does.
fn sqlite_thread(
    path: PathBuf,
    conn: rusqlite::Connection,
    mut batches: mpsc::Receiver<ThreadBatch>,
) {
    let mut conn = Some(conn);
    while let Some((events, done)) = batches.blocking_recv() {
        let refs: Vec<(&AuditEvent, i64)> = events.iter().map(|(e, at)| (e, *at)).collect();
        let appended = append_on(&mut conn, || open_sqlite(&path), &refs, |_| false);
        let _ = done.send(appended.map_err(|e| e.to_string()));
    }
}

/// One batch on the connection in `slot` (opened by `open` if there is none),
/// which stays there after a commit or an error `keep` accepts; after any
/// other error the next batch opens a new one.
fn append_on(
    slot: &mut Option<rusqlite::Connection>,
    open: impl FnOnce() -> rusqlite::Result<rusqlite::Connection>,
    events: &[(&AuditEvent, i64)],
    keep: fn(&rusqlite::Error) -> bool,
) -> rusqlite::Result<i64> {
    let mut c = match slot.take() {
        Some(c) => c,
        None => open()?,
    };
    let appended = append_sqlite(&mut c, events);
    if appended.as_ref().map_or_else(keep, |_| true) {
        *slot = Some(c);
    }
    appended
}

/// One batch in one write transaction on `c`; returns the last sequence number.
fn append_sqlite(
    c: &mut rusqlite::Connection,
    events: &[(&AuditEvent, i64)],
) -> rusqlite::Result<i64> {
    use rusqlite::OptionalExtension;
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let head: Option<(i64, String)> = tx
        .prepare_cached(HEAD)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let rows = chain(head, events);
    {
        let mut insert = tx.prepare_cached(INSERT_ONE)?;
        for r in &rows {
            insert_row(&mut insert, r)?;
        }
    }
    tx.commit()?;
    Ok(rows.last().map_or(0, |r| r.seq))
}

fn insert_row(
    insert: &mut rusqlite::CachedStatement<'_>,
    r: &ChainedRow<'_>,
) -> rusqlite::Result<()> {
    let e = r.event;
    insert.execute(rusqlite::params![
        r.seq,
        r.id,
        r.at_ms,
        e.kind,
        e.actor,
        e.client_id,
        e.subject,
        e.target,
        e.outcome,
        e.reason,
        r.detail,
        r.prev_hash,
        r.hash,
    ])?;
    Ok(())
}

/// One pooled connection that appends batches of audit events (see [`Db::audit_writer`]).
pub struct PooledWriter {
    pub(crate) conn: sqlx::pool::PoolConnection<sqlx::Any>,
    pub(crate) backend: Backend,
    /// The chain's head after this writer's last append (PostgreSQL): the
    /// next batch goes after it in one statement while no one else appended.
    pub(crate) head: Option<(i64, String)>,
}

impl PooledWriter {
    /// Appends `events` in one write transaction; returns the new head.
    pub async fn append(&mut self, events: &[(&AuditEvent, i64)]) -> DbResult<(i64, String)> {
        let all: Vec<(&AuditEvent, i64, bool)> =
            events.iter().map(|(e, at)| (*e, *at, false)).collect();
        self.append_at_epoch(&all, None).await.map(|(head, _)| head)
    }

    /// Appends `events` in one write transaction: all of them while the gate
    /// epoch is still `epoch` (or there is none), else only those not flagged
    /// as standing on it. Returns the new head and whether the epoch held.
    pub async fn append_at_epoch(
        &mut self,
        events: &[(&AuditEvent, i64, bool)],
        epoch: Option<i64>,
    ) -> DbResult<((i64, String), bool)> {
        use crate::audit::{AppendedAfter, append_after};
        use sqlx::Connection;
        let postgres = self.backend == Backend::Postgres;
        if postgres && let Some(head) = self.head.take() {
            let all: Vec<(&AuditEvent, i64)> = events.iter().map(|(e, at, _)| (*e, *at)).collect();
            if let AppendedAfter::Committed(new) =
                append_after(&mut self.conn, &head, &all, epoch).await?
            {
                self.head = Some(new.clone());
                return Ok((new, true));
            }
        }
        let mut tx = match self.backend {
            Backend::Sqlite => self.conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.conn.begin().await?,
        };
        let held = match epoch {
            Some(epoch) if postgres => {
                // Under the writer lock, which every write the gate reads takes first.
                crate::lock_writer(&mut tx).await?;
                crate::gate::read_epoch(&mut tx).await? == epoch
            }
            _ => true,
        };
        let kept: Vec<(&AuditEvent, i64)> = events
            .iter()
            .filter(|(_, _, on)| held || !on)
            .map(|(e, at, _)| (*e, *at))
            .collect();
        let head = crate::audit::append(&mut tx, &kept).await?;
        tx.commit().await?;
        self.head = Some(head.clone());
        Ok((head, held))
    }
}
