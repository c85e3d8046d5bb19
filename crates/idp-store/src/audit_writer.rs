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

use crate::{
    Backend, Db, DbResult,
    audit::{AuditEvent, ChainedRow, HEAD, INSERT_ONE, chain},
};
use std::path::PathBuf;
use tokio::sync::{mpsc, oneshot};

/// At most this many events share one transaction.
const BATCH: usize = 256;

type Job = (AuditEvent, i64, oneshot::Sender<Result<i64, String>>);

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
        let (done, wait) = oneshot::channel();
        self.tx
            .send((event, at_ms, done))
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

impl Sink {
    /// Commits `events`; returns the last sequence number.
    async fn commit(&mut self, events: Vec<(AuditEvent, i64)>) -> Result<i64, String> {
        match self {
            Sink::Sqlite { here, path, thread } => {
                let refs: Vec<(&AuditEvent, i64)> = events.iter().map(|(e, at)| (e, *at)).collect();
                match append_on(here, || open_here(path), &refs, lock_taken) {
                    Ok(last) => return Ok(last),
                    // Nothing of the batch is committed: the thread waits for the lock.
                    Err(e) if lock_taken(&e) => {}
                    Err(e) => return Err(e.to_string()),
                }
                let (done, wait) = oneshot::channel();
                thread
                    .send((events, done))
                    .await
                    .map_err(|_| "the audit writer thread has stopped".to_owned())?;
                wait.await
                    .map_err(|_| "the audit writer thread has stopped".to_owned())?
            }
            Sink::Pooled { db, conn } => {
                let refs: Vec<(&AuditEvent, i64)> = events.iter().map(|(e, at)| (e, *at)).collect();
                let writer = match conn.take() {
                    Some(w) => Ok(w),
                    None => db.audit_writer().await,
                };
                let appended = match writer {
                    Ok(mut w) => w.append(&refs).await.inspect(|_| *conn = Some(w)),
                    Err(e) => Err(e),
                };
                appended.map(|(last, _)| last).map_err(|e| e.to_string())
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
        let mut events = Vec::with_capacity(jobs.len());
        let mut waiting = Vec::with_capacity(jobs.len());
        for (e, at, done) in jobs.drain(..) {
            events.push((e, at));
            waiting.push(done);
        }
        match sink.commit(events).await {
            Ok(last) => {
                let first = last - waiting.len() as i64 + 1;
                for (i, done) in waiting.into_iter().enumerate() {
                    let _ = done.send(Ok(first + i as i64));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit batch failed; nothing in it was acknowledged");
                for done in waiting {
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
        use crate::audit::{AppendedAfter, append_after};
        use sqlx::Connection;
        if self.backend == Backend::Postgres
            && let Some(head) = self.head.take()
            && let AppendedAfter::Committed(new) =
                append_after(&mut self.conn, &head, events).await?
        {
            self.head = Some(new.clone());
            return Ok(new);
        }
        let mut tx = match self.backend {
            Backend::Sqlite => self.conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.conn.begin().await?,
        };
        let head = crate::audit::append(&mut tx, events).await?;
        tx.commit().await?;
        self.head = Some(head.clone());
        Ok(head)
    }
}
