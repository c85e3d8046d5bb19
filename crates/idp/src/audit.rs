//! The IdP's handle on the audit log: every event goes through the store's
//! group-commit writer (`idp_store::audit_writer`), and a caller awaits its own
//! event's commit. The log itself (rows, hash chain, verification) is
//! `idp_store::audit`. Events never hold a token.

pub use idp_store::audit::{AuditEvent, AuditOutcome, ChainReport, GENESIS, StoredEvent, append};
use idp_store::{Db, audit_writer::AuditAppender};

/// A handle to the audit writer.
#[derive(Clone)]
pub struct AuditLog {
    writer: AuditAppender,
}

#[derive(Debug, thiserror::Error)]
#[error("the audit log could not record the event: {0}")]
pub struct AuditError(String);

impl AuditLog {
    /// Starts the writer over `db`.
    pub async fn start(db: Db) -> Result<Self, sqlx::Error> {
        // Fail at start, not at the first event, if the table is unreadable.
        db.audit_readable().await?;
        Ok(Self {
            writer: AuditAppender::start(&db).await?,
        })
    }

    /// Appends `event` and waits until it is committed; returns its sequence number.
    pub async fn record(&self, event: AuditEvent, at_ms: i64) -> Result<i64, AuditError> {
        self.writer.append(event, at_ms).await.map_err(AuditError)
    }
}
