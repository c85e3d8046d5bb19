//! `user_blocks`: people the help desk cut off from every app (the kill switch
//! by user).

use crate::{Backend, Conn, Db, DbResult, sql};

/// Blocks `username` (or updates the reason of an existing block).
pub async fn block(
    tx: &mut Conn,
    username: &str,
    reason: &str,
    by: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO user_blocks (username, reason, created_by, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET reason = excluded.reason",
    ))
    .bind(username)
    .bind(reason)
    .bind(by)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether `username` is blocked, read in the caller's transaction.
pub async fn blocked_in(c: &mut Conn, username: &str) -> DbResult<bool> {
    let n: i64 = sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT COUNT(*) FROM user_blocks WHERE username = ?",
    ))
    .bind(username)
    .fetch_one(&mut *c)
    .await?;
    Ok(n > 0)
}

/// Lifts `username`'s block if it is still the one `blocked_at` set (a block
/// made since, for another reason, stays); whether it did.
pub async fn unblock(tx: &mut Conn, username: &str, blocked_at: i64) -> DbResult<bool> {
    let done = sqlx::query(sql(
        Backend::of(tx),
        "DELETE FROM user_blocks WHERE username = ? AND created_at = ?",
    ))
    .bind(username)
    .bind(blocked_at)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Db {
    /// Whether the help desk cut `username` off.
    pub async fn is_blocked(&self, username: &str) -> DbResult<bool> {
        let n: i64 = sqlx::query_scalar(sql(
            self.backend(),
            "SELECT COUNT(*) FROM user_blocks WHERE username = ?",
        ))
        .bind(username)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// Everyone blocked.
    pub async fn blocked_users(&self) -> DbResult<Vec<String>> {
        sqlx::query_scalar("SELECT username FROM user_blocks ORDER BY username")
            .fetch_all(self.pool())
            .await
    }
}
