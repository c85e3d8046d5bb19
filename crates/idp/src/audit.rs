//! The audit writer: appends go through one task that commits in groups, so a
//! caller awaits its own event's commit (nothing is acknowledged before it is
//! durable) while many concurrent exchanges share one transaction. The log
//! itself (rows, hash chain, verification) is `idp_store::audit`. Events never
//! hold a token.

use idp_store::Db;
pub use idp_store::audit::{AuditEvent, AuditOutcome, ChainReport, GENESIS, StoredEvent, append};
use tokio::sync::{mpsc, oneshot};

type Job = (AuditEvent, i64, oneshot::Sender<Result<i64, String>>);

/// A handle to the audit writer.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
}

#[derive(Debug, thiserror::Error)]
#[error("the audit log could not record the event: {0}")]
pub struct AuditError(String);

impl AuditLog {
    /// Starts the writer task over `db`.
    pub async fn start(db: Db) -> Result<Self, sqlx::Error> {
        // Fail at start, not at the first event, if the table is unreadable.
        db.audit_readable().await?;
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(db, rx));
        Ok(Self { tx })
    }

    /// Appends `event` and waits until it is committed; returns its sequence number.
    pub async fn record(&self, event: AuditEvent, at_ms: i64) -> Result<i64, AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((event, at_ms, done))
            .await
            .map_err(|_| AuditError("the writer has stopped".into()))?;
        wait.await
            .map_err(|_| AuditError("the writer has stopped".into()))?
            .map_err(AuditError)
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(256);
    // Its own connection, kept warm; after a failure the next batch takes a new one.
    let mut conn: Option<idp_store::audit::AuditWriter> = None;
    while rx.recv_many(&mut batch, 256).await > 0 {
        let events: Vec<(&AuditEvent, i64)> = batch.iter().map(|(e, at, _)| (e, *at)).collect();
        let writer = match conn.take() {
            Some(w) => Ok(w),
            None => db.audit_writer().await,
        };
        let appended = match writer {
            Ok(mut w) => w.append(&events).await.inspect(|_| conn = Some(w)),
            Err(e) => Err(e),
        };
        match appended {
            Ok((last, _)) => {
                let first = last - batch.len() as i64 + 1;
                for (i, (_, _, done)) in batch.drain(..).enumerate() {
                    let _ = done.send(Ok(first + i as i64));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit batch failed; nothing in it was acknowledged");
                for (_, _, done) in batch.drain(..) {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }
}
