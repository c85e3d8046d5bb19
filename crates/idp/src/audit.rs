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

    /// Appends `event` only if the gate epoch is still `epoch` as it commits;
    /// `Ok(None)`: it had moved and nothing was written (see
    /// `idp_store::audit_writer::AuditAppender::append_at_epoch`).
    pub async fn record_at_epoch(
        &self,
        event: AuditEvent,
        at_ms: i64,
        epoch: i64,
    ) -> Result<Option<i64>, AuditError> {
        self.writer
            .append_at_epoch(event, at_ms, epoch)
            .await
            .map_err(AuditError)
    }
}

/// `connection_request.created`: a request no approver has seen yet (the
/// notifier tells the approvers' channels).
pub fn request_created(
    client_id: &str,
    subject: Option<&str>,
    request_id: &str,
    resource_app: &str,
    scopes: &[String],
) -> AuditEvent {
    let mut e = AuditEvent::new("connection_request.created", AuditOutcome::Success);
    e.client_id = Some(client_id.to_owned());
    e.subject = subject.map(str::to_owned);
    e.target = Some(request_id.to_owned());
    e.detail = serde_json::json!({ "resource_app": resource_app, "scopes": scopes });
    e
}
