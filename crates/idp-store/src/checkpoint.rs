//! SQLite's WAL checkpoints, off the write path. By default the connection
//! whose commit takes the WAL past 1,000 pages copies them into the database
//! file and syncs it, inside that commit: with the audit writer committing
//! several times a millisecond, every exchange waiting on that commit waited
//! for the copy and the fsync too (the p99 at half load was 11 ms). Here every
//! connection has automatic checkpoints off and one thread of the store's runs
//! a PASSIVE checkpoint (it never blocks writers or readers) every 25 ms,
//! and rewinds the WAL once a second (see [`checkpoint`]). The thread ends
//! when the last handle to the database is dropped.
//!
//! Every 25 ms, not every 250: a pass syncs the WAL written since the last
//! one, and at half of peak load 250 ms of it was ~25 MB — each pass's sync
//! and copy took 15–25 ms of the one core beside the requests, and the
//! slowest 1 % of exchanges were exactly the ones due during a pass (an
//! open-loop trace of due time and latency showed them clustered every
//! 270 ms). Ten smaller passes spread that work (p99 at half load 9.2–11.8 →
//! 7.1–8.7 ms in alternating runs on a noisy machine). Syncs are `fdatasync`
//! (SQLite is built with `HAVE_FDATASYNC`, see `.cargo/config.toml`): `fsync`
//! also journalled each file's new mtime, and the rewind held the write lock
//! through two such syncs for 4–6 ms; with `fdatasync` that hold is mostly
//! under 1.5 ms.

use std::{path::PathBuf, sync::mpsc, time::Duration};

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(25);

/// Every how many checkpoints the WAL is rewound (see [`checkpoint`]): once a second.
const REWIND_EVERY: u32 = 40;

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
    let mut ticks = 0u32;
    // Each time it wakes without a stop (the sender never sends; it is dropped).
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        let c = match conn.take().map_or_else(|| open_checkpointer(path), Ok) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "the WAL checkpointer cannot open the database");
                continue;
            }
        };
        ticks += 1;
        match checkpoint(&c, ticks.is_multiple_of(REWIND_EVERY)) {
            Ok(()) => conn = Some(c),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
        }
    }
    // A last full copy on the way out, so the file alone is the database.
    if let Some(c) = conn.or_else(|| open(path).ok()) {
        let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
    }
}

/// Copies the WAL into the database file and, with `rewind`, makes the next
/// commit write the WAL from its start. SQLite rewinds a WAL only when a
/// writer begins while every frame is copied and no reader is inside it,
/// which under steady load never happens: PASSIVE checkpoints alone let the
/// WAL grow by ~90 MB a second, without bound, and every commit extended the
/// file (ext4 block allocation behind the writeback of the same file: 3–8 ms
/// stalls). So the PASSIVE pass does the bulk without blocking anyone, and
/// once a second a RESTART copies what came in meanwhile — holding the write
/// lock only for that tail and its syncs — and waits for readers to leave.
/// The rewind costs the next writer one sync of the WAL header (SQLite's rule
/// for reusing a WAL), hence once a second, not at every checkpoint.
fn checkpoint(c: &rusqlite::Connection, rewind: bool) -> rusqlite::Result<()> {
    let pass = |mode: &str| {
        // (busy, frames in the WAL, frames copied)
        c.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            r.get::<_, i64>(1)
        })
    };
    let frames = pass("PASSIVE")?;
    if rewind && frames > 0 {
        pass("RESTART")?;
    }
    Ok(())
}

/// The checkpointer's connection: a RESTART holds the write lock while it
/// waits for readers, so it gives up after 2 ms (a backup or a chain
/// verification reads for seconds) and tries again at the next rewind.
fn open_checkpointer(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    fn give_up_soon(tries: i32) -> bool {
        tries < 40 && retry_soon(tries)
    }
    let c = open(path)?;
    c.busy_handler(Some(give_up_soon))?;
    Ok(c)
}

/// SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries: a writer
/// that found the lock taken for 100 µs waited 1 ms or more, and every exchange
/// waiting on its commit with it. Ours tries again every 50 µs, for 5 s.
fn retry_soon(tries: i32) -> bool {
    const STEP: Duration = Duration::from_micros(50);
    if tries >= 100_000 {
        return false;
    }
    std::thread::sleep(STEP);
    true
}

/// A connection of the store's own (rusqlite, no sqlx worker) to a SQLite
/// file, with [`PRAGMAS`]: the checkpointer's, the audit writer's, the verifier's.
pub(crate) fn open(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.execute_batch(PRAGMAS)?;
    c.busy_handler(Some(retry_soon))?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    };

    /// What a load of small commits left in the WAL, made while a reader
    /// reads and the checkpointer runs alongside (rewinding, or not). The load lasts at least `commits`
    /// commits and at least `passes` checkpoints: on a busy machine the
    /// checkpointer's thread may start only after thousands of commits.
    fn wal_after_load(rewind: bool, commits: usize, passes: usize) -> WalAfterLoad {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        drop(rusqlite::Connection::open(&path).unwrap()); // creates the file
        let w = open(&path).unwrap();
        w.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let passes_done = Arc::new(AtomicUsize::new(0));
        let reader = {
            let (path, done) = (path.clone(), done.clone());
            std::thread::spawn(move || {
                let r = open(&path).unwrap();
                while !done.load(Ordering::Relaxed) {
                    let _: i64 = r
                        .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                        .unwrap();
                }
            })
        };
        let checkpointer = {
            let (path, done, passes_done) = (path.clone(), done.clone(), passes_done.clone());
            std::thread::spawn(move || {
                let c = open_checkpointer(&path).unwrap();
                while !done.load(Ordering::Relaxed) {
                    checkpoint(&c, rewind).unwrap();
                    passes_done.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut made = 0;
        while made < commits || passes_done.load(Ordering::Relaxed) < passes {
            assert!(
                std::time::Instant::now() < deadline,
                "the checkpointer made {} of {passes} passes in a minute",
                passes_done.load(Ordering::Relaxed)
            );
            w.execute(
                "INSERT INTO t (v) VALUES (?1)",
                [format!("row {made:0>200}")],
            )
            .unwrap();
            made += 1;
        }
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        checkpointer.join().unwrap();
        let frames: i64 = w
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap();
        let page: i64 = w.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let wal_bytes = std::fs::metadata(dir.path().join("t.sqlite-wal"))
            .unwrap()
            .len();
        WalAfterLoad {
            frames: frames as usize,
            most_frames: (wal_bytes / (page as u64 + 24)) as usize,
            commits: made,
        }
    }

    struct WalAfterLoad {
        /// Frames in the WAL at the end.
        frames: usize,
        /// The most frames it ever held (its file is never shortened).
        most_frames: usize,
        commits: usize,
    }

    #[test]
    fn under_steady_writes_the_wal_is_rewound_not_grown_without_bound() {
        let (commits, passes) = (3000, 50);
        // Each commit writes at least one frame. Without the rewind, SQLite
        // rewinds by itself only when the reader happens to be outside (on a
        // busy machine, now and then): the WAL grows to thousands of frames.
        let passive = wal_after_load(false, commits, passes);
        assert!(
            passive.most_frames * 4 >= passive.commits,
            "the load did not keep the WAL from rewinding by itself (at most {} frames in {} commits): the test shows nothing",
            passive.most_frames,
            passive.commits
        );
        let rewound = wal_after_load(true, commits, passes);
        assert!(
            rewound.frames * 4 < rewound.commits && rewound.frames * 4 < passive.most_frames,
            "rewinding left {} frames after {} commits (PASSIVE alone: up to {} frames)",
            rewound.frames,
            rewound.commits,
            passive.most_frames
        );
    }
}
