//! Pages of a filtered list in SQL: the values a built filter binds, and one
//! page with the total match count. Cursors are opaque offsets.

use crate::{Backend, Conn, DbResult, sql::sql_owned};
use sqlx::{Any, Row, any::AnyArguments, any::AnyRow, query::Query};

/// A value bound into a built query.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    Int(i64),
    /// A NULL of a text column (PostgreSQL types every parameter).
    NullText,
    NullInt,
}

/// Binds `binds` in order.
pub fn bound<'q, 'b>(
    mut query: Query<'q, Any, AnyArguments>,
    binds: impl IntoIterator<Item = &'b Bind>,
) -> Query<'q, Any, AnyArguments> {
    for b in binds {
        query = match b {
            Bind::Text(t) => query.bind(t.clone()),
            Bind::Int(i) => query.bind(*i),
            Bind::NullText => query.bind(None::<String>),
            Bind::NullInt => query.bind(None::<i64>),
        };
    }
    query
}

/// One page of `SELECT {columns}{filter} ORDER BY {order}` and the total match
/// count. With `scan` (the filter reads every row anyway, e.g. a search) the
/// count rides on the page query as a window, so the table is scanned once;
/// otherwise a separate `COUNT(*)` lets the page query stop after `limit` rows
/// along an index.
#[allow(clippy::too_many_arguments)]
pub async fn sql_page(
    db: &mut Conn,
    columns: &str,
    filter: &str,
    binds: &[Bind],
    order: &str,
    order_binds: &[Bind],
    offset: usize,
    limit: usize,
    scan: bool,
) -> DbResult<(Vec<AnyRow>, i64)> {
    let b = Backend::of(db);
    let all: Vec<&Bind> = binds.iter().chain(order_binds).collect();
    if scan {
        let text = format!(
            "SELECT {columns}, COUNT(*) OVER () AS total_rows{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
        );
        let rows = bound(sqlx::query(sql_owned(b, text)), all.iter().copied())
            .fetch_all(&mut *db)
            .await?;
        if let Some(first) = rows.first() {
            let total: i64 = first.get("total_rows");
            return Ok((rows, total));
        }
        if offset == 0 {
            return Ok((rows, 0));
        }
    }
    let total: i64 = bound(
        sqlx::query(sql_owned(b, format!("SELECT COUNT(*){filter}"))),
        binds,
    )
    .fetch_one(&mut *db)
    .await?
    .get(0);
    let text = format!("SELECT {columns}{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
    let rows = bound(sqlx::query(sql_owned(b, text)), all)
        .fetch_all(&mut *db)
        .await?;
    Ok((rows, total))
}
