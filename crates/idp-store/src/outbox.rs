//! `revocation_outbox`: Security Event Tokens waiting for (or delivered to) each
//! resource app receiver. Queued in the transaction of the decision that
//! revoked; delivered by the pusher with retries; each row is the receipt the
//! console shows.

use crate::{Backend, Conn, Db, DbResult, known_status, sql, sql::sql_owned};
use admin_api::{ReceiptStatus, ReceiptView};
use sqlx::{Row, any::AnyRow};

/// One SET to deliver.
#[derive(Debug, Clone)]
pub struct QueuedSet<'a> {
    pub event_id: &'a str,
    pub receiver: &'a str,
    pub connection_id: Option<&'a str>,
    pub set_jwt: &'a str,
    pub now_ms: i64,
    /// The kill switch (or its reinstatement) that queued it.
    pub kill_id: Option<&'a str>,
}

/// A delivery due now.
#[derive(Debug, Clone)]
pub struct DueSet {
    pub event_id: String,
    pub receiver: String,
    pub connection_id: Option<String>,
    pub set_jwt: String,
    pub attempts: i64,
}

fn receipt_status(s: &str) -> Option<ReceiptStatus> {
    match s {
        "pending" => Some(ReceiptStatus::Pending),
        "delivered" => Some(ReceiptStatus::Delivered),
        "failed" => Some(ReceiptStatus::Failed),
        _ => None,
    }
}

fn status_str(s: ReceiptStatus) -> &'static str {
    match s {
        ReceiptStatus::Pending => "pending",
        ReceiptStatus::Delivered => "delivered",
        ReceiptStatus::Failed => "failed",
    }
}

/// The one decoder of an outbox row, as the receipt the console shows.
pub(crate) fn receipt(r: &AnyRow) -> DbResult<ReceiptView> {
    let created: i64 = r.get("created_at_ms");
    let delivered: Option<i64> = r.get("delivered_at_ms");
    let status: String = r.get("status");
    Ok(ReceiptView {
        event_id: r.get("event_id"),
        receiver: r.get("receiver"),
        status: known_status(receipt_status(&status), &status, "receipt")?,
        attempts: r.get("attempts"),
        created_at_ms: created,
        delivered_at_ms: delivered,
        latency_ms: delivered.map(|d| d - created),
        last_error: r.get("last_error"),
    })
}

/// Queues one SET inside the caller's transaction.
pub async fn enqueue(tx: &mut Conn, s: &QueuedSet<'_>) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO revocation_outbox (event_id, receiver, connection_id, set_jwt, created_at_ms, next_attempt_ms, status, kill_id) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
    ))
    .bind(s.event_id)
    .bind(s.receiver)
    .bind(s.connection_id)
    .bind(s.set_jwt)
    .bind(s.now_ms)
    .bind(s.now_ms)
    .bind(s.kill_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The receipts of a connection's revocation events.
pub async fn receipts(c: &mut Conn, connection_id: &str) -> DbResult<Vec<ReceiptView>> {
    sqlx::query(sql(
        Backend::of(c),
        "SELECT * FROM revocation_outbox WHERE connection_id = ? ORDER BY created_at_ms, receiver",
    ))
    .bind(connection_id)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(receipt)
    .collect()
}

/// SETs not yet delivered (nor given up on), per receiver: the metrics' outbox
/// backlog.
pub async fn backlog(c: &mut Conn) -> DbResult<Vec<(String, i64)>> {
    Ok(sqlx::query(sql(
        Backend::of(c),
        "SELECT receiver, COUNT(*) AS n FROM revocation_outbox WHERE status = 'pending' GROUP BY receiver ORDER BY receiver",
    ))
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| (r.get("receiver"), r.get("n")))
    .collect())
}

/// Records one delivery attempt's outcome: delivered, or the next attempt's
/// time (`Pending`) or giving up (`Failed`) with the error.
pub async fn record_attempt(
    tx: &mut Conn,
    event_id: &str,
    receiver: &str,
    attempts: i64,
    outcome: Result<i64, (ReceiptStatus, i64, &str)>,
) -> DbResult<()> {
    let b = Backend::of(tx);
    match outcome {
        Ok(delivered_at_ms) => {
            sqlx::query(sql(
                b,
                "UPDATE revocation_outbox SET status = 'delivered', attempts = ?, delivered_at_ms = ?, last_error = NULL WHERE event_id = ? AND receiver = ?",
            ))
            .bind(attempts)
            .bind(delivered_at_ms)
            .bind(event_id)
            .bind(receiver)
            .execute(&mut *tx)
            .await?;
        }
        Err((status, next_attempt_ms, error)) => {
            sqlx::query(sql(
                b,
                "UPDATE revocation_outbox SET status = ?, attempts = ?, next_attempt_ms = ?, last_error = ? WHERE event_id = ? AND receiver = ?",
            ))
            .bind(status_str(status))
            .bind(attempts)
            .bind(next_attempt_ms)
            .bind(error)
            .bind(event_id)
            .bind(receiver)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

impl Db {
    /// Claims up to `limit` pending deliveries due at `now_ms`, oldest first, for
    /// `lease_ms`: their next attempt moves past the lease, so no other node (nor
    /// this one's next pass) sends them meanwhile; a node killed mid-delivery
    /// leaves them to the others once the lease runs out. On PostgreSQL rows
    /// another node is claiming are skipped, not waited for.
    pub async fn claim_due_sets(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> DbResult<Vec<DueSet>> {
        let rows = claim_due(
            self,
            Leased {
                table: "revocation_outbox",
                key: "event_id, receiver",
                order: "created_at_ms",
                returning: "event_id, receiver, connection_id, set_jwt, attempts",
            },
            (now_ms, lease_ms, limit),
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| DueSet {
                event_id: r.get("event_id"),
                receiver: r.get("receiver"),
                connection_id: r.get("connection_id"),
                set_jwt: r.get("set_jwt"),
                attempts: r.get("attempts"),
            })
            .collect())
    }
}

/// An outbox whose rows are claimed for a lease: its table, the key columns
/// of a row, the order rows are due in, and the columns a claim returns.
pub(crate) struct Leased {
    pub table: &'static str,
    pub key: &'static str,
    pub order: &'static str,
    pub returning: &'static str,
}

/// Claims up to `limit` pending rows of `o` due at `now_ms` for `lease_ms`:
/// their next attempt moves past the lease, so no other node (nor this one's
/// next pass) sends them meanwhile; a node killed mid-delivery leaves them to
/// the others once the lease runs out. On PostgreSQL rows another node is
/// claiming are skipped, not waited for. (The revocation outbox and the
/// notification outbox both claim this way.)
pub(crate) async fn claim_due(
    db: &Db,
    o: Leased,
    (now_ms, lease_ms, limit): (i64, i64, i64),
) -> DbResult<Vec<AnyRow>> {
    let skip_locked = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let Leased {
        table,
        key,
        order,
        returning,
    } = o;
    let text = format!(
        "UPDATE {table} SET next_attempt_ms = ? WHERE ({key}) IN (SELECT {key} FROM {table} WHERE status = 'pending' AND next_attempt_ms <= ? ORDER BY {order} LIMIT ?{skip_locked}) RETURNING {returning}"
    );
    sqlx::query(sql_owned(db.backend(), text))
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .bind(limit)
        .fetch_all(db.pool())
        .await
}
