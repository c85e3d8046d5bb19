//! SQLite's WAL checkpoints, off the write path. By default the connection
//! whose commit takes the WAL past 1,000 pages copies them into the database
//! file and syncs it, inside that commit: with the audit writer committing
//! several times a millisecond, every exchange waiting on that commit waited
//! for the copy and the fsync too (the p99 at half load was 11 ms). Here every
//! connection has automatic checkpoints off and one thread of the store's runs
//! a PASSIVE checkpoint (it never blocks writers or readers) a few times a
//! second. The thread ends when the last handle to the database is dropped.

use std::{path::PathBuf, sync::mpsc, time::Duration};

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(250);

/// The pragmas of every connection to a SQLite database of the store, the
/// audit writer's included. WAL + NORMAL: a commit survives a killed process;
/// the file is synced at checkpoints. Pages are read through a memory map
/// (256 MiB at most), not copied by pread. Checkpoints are [`Checkpointer`]'s.
pub(crate) const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456; PRAGMA wal_autocheckpoint = 0;";

/// Held by the database handle; dropping the last one stops the thread.
pub(crate) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(crate) fn start(path: PathBuf) -> std::io::Result<Checkpointer> {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("gatehouse-checkpoint".into())
            .spawn(move || run(&path, &stopped))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(path: &std::path::Path, stopped: &mpsc::Receiver<()>) {
    let mut conn: Option<rusqlite::Connection> = None;
    // Each time it wakes without a stop (the sender never sends; it is dropped).
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        let c = match conn.take().map_or_else(|| open(path), Ok) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "the WAL checkpointer cannot open the database");
                continue;
            }
        };
        match c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
            Ok(_) => conn = Some(c),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
        }
    }
    // A last full copy on the way out, so the file alone is the database.
    if let Some(c) = conn.or_else(|| open(path).ok()) {
        let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
    }
}

/// A connection of the store's own (rusqlite, no sqlx worker) to a SQLite
/// file, with [`PRAGMAS`]: the checkpointer's, the audit writer's, the verifier's.
pub(crate) fn open(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.execute_batch(PRAGMAS)?;
    Ok(c)
}
