//! A bound on costly work: at most `workers` jobs run at once (password hashes
//! on the gate's own threads, each holding ~19 MiB for argon2), at most `queue` wait,
//! and none waits longer than `deadline`. Past either bound the caller gets
//! `Overloaded` and answers `503` with `Retry-After` — never unbounded memory
//! or threads, whatever the number of concurrent sign-ins.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};
use tokio::sync::Semaphore;

/// The work could not start within its bounds; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded {
    pub retry_after: u64,
}

impl Overloaded {
    /// As the token endpoint answers it: `503 temporarily_unavailable` (with
    /// `Retry-After`, added by `http_error`).
    pub fn into_oauth(self) -> xaa::OAuthError {
        xaa::OAuthError::new(
            xaa::ErrorCode::TemporarilyUnavailable,
            "the IdP is busy verifying other requests; retry shortly",
        )
    }
}

type Job = Box<dyn FnOnce() + Send>;

pub struct CostGate {
    running: Semaphore,
    waiting: AtomicUsize,
    queue: usize,
    deadline: Duration,
    /// Jobs go to `workers` threads of the gate's own: a fixed set of threads
    /// keeps a fixed set of allocator arenas, so argon2's 19 MiB blocks are
    /// reused instead of piling up in the arenas of ever new blocking threads.
    jobs: std::sync::mpsc::Sender<Job>,
}

impl CostGate {
    pub fn new(workers: usize, queue: usize, deadline: Duration) -> Self {
        let workers = workers.max(1);
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for n in 0..workers {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("gatehouse-cost-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job; the
                        // channel closes when the gate is dropped.
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a worker thread for costly work");
            }
        }
        Self {
            running: Semaphore::new(workers),
            waiting: AtomicUsize::new(0),
            queue,
            deadline,
            jobs,
        }
    }

    /// One worker per core, a queue of 32 per worker, 2 s at most in it.
    pub fn for_password_hashing() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores, 32 * cores, Duration::from_secs(2))
    }

    /// Signature checks of tokens not seen before (ID tokens, client
    /// assertions): one worker per core, 256 waiting per core, 1 s at most.
    pub fn for_signatures() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores, 256 * cores, Duration::from_secs(1))
    }

    /// Runs `f` on one of the gate's workers once one is free.
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Overloaded> {
        let busy = Overloaded {
            retry_after: self.deadline.as_secs().max(1),
        };
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy);
        }
        let permit = tokio::time::timeout(self.deadline, self.running.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let Ok(Ok(_permit)) = permit else {
            return Err(busy);
        };
        // A permit per worker: a free worker takes this job at once.
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| busy)?;
        rx.await.map_err(|_| busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, atomic::AtomicUsize};

    #[tokio::test]
    async fn never_more_than_the_workers_run_and_the_rest_is_refused_past_the_queue() {
        let gate = Arc::new(CostGate::new(2, 3, Duration::from_secs(5)));
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut jobs = Vec::new();
        for _ in 0..20 {
            let (gate, now, peak) = (gate.clone(), now.clone(), peak.clone());
            jobs.push(tokio::spawn(async move {
                gate.run_blocking(move || {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    now.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        let mut ok = 0;
        let mut refused = 0;
        for j in jobs {
            match j.await.unwrap() {
                Ok(()) => ok += 1,
                Err(o) => {
                    assert!(o.retry_after >= 1);
                    refused += 1;
                }
            }
        }
        assert!(peak.load(Ordering::SeqCst) <= 2, "at most two at once");
        assert!(ok >= 2 && refused >= 1, "ok {ok}, refused {refused}");
        assert_eq!(ok + refused, 20);
    }

    #[tokio::test]
    async fn a_wait_past_the_deadline_is_refused() {
        let gate = Arc::new(CostGate::new(1, 10, Duration::from_millis(50)));
        let g = gate.clone();
        let slow = tokio::spawn(async move {
            g.run_blocking(|| std::thread::sleep(Duration::from_millis(400)))
                .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(gate.run_blocking(|| ()).await.is_err());
        assert!(slow.await.unwrap().is_ok());
    }
}
