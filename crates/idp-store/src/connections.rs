//! `connections`: approved client → resource app relationships. The one decoder
//! of a connection row, and every query of the table: the gate's lookup of a
//! live pair, the inventory's filtered and sorted pages, and the writes of
//! decisions (approve, modify, suspend/resume/revoke, narrow, exclude a user).
//! Every write bumps `version` (the ETag) and takes the caller's transaction.

use crate::{
    Backend, Conn, Db, DbResult, from_json, json, known_status,
    page::{Bind, bound, sql_page},
    sql,
    sql::sql_owned,
};
pub use admin_api::ConnectionStatus;
use admin_api::{ScopeCondition, StepUpRule};
use serde::{Deserialize, Serialize};
use sqlx::{Row, any::AnyRow};

/// What the policy gate needs of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub client_id: String,
    pub resource_app: String,
    pub scopes: ScopeCondition,
    pub allowed_groups: Vec<String>,
    /// Users whose access through this connection an access review removed.
    pub excluded_users: Vec<String>,
    pub allowed_resources: Vec<String>,
    pub step_up: Vec<StepUpRule>,
    pub id_jag_lifetime: Option<u64>,
    pub expires_at: Option<i64>,
    pub status: ConnectionStatus,
    pub approved_by: Vec<String>,
    pub version: i64,
}

/// A whole stored connection: the gate's part and the inventory's bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRow {
    pub connection: Connection,
    pub justification: Option<String>,
    pub request_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub status_reason: Option<String>,
}

impl ConnectionRow {
    /// The one decoder of a `connections` row.
    pub fn decode(r: &AnyRow) -> DbResult<ConnectionRow> {
        let status: String = r.get("status");
        Ok(ConnectionRow {
            connection: Connection {
                id: r.get("id"),
                client_id: r.get("client_id"),
                resource_app: r.get("resource_app"),
                scopes: from_json(&r.get::<String, _>("scope_condition"))?,
                allowed_groups: from_json(&r.get::<String, _>("allowed_groups"))?,
                excluded_users: from_json(&r.get::<String, _>("excluded_users"))?,
                allowed_resources: from_json(&r.get::<String, _>("allowed_resources"))?,
                step_up: from_json(&r.get::<String, _>("step_up"))?,
                id_jag_lifetime: r.get::<Option<i64>, _>("id_jag_lifetime").map(|v| v as u64),
                expires_at: r.get("expires_at"),
                status: known_status(ConnectionStatus::parse(&status), &status, "connection")?,
                approved_by: from_json(&r.get::<String, _>("approved_by"))?,
                version: r.get("version"),
            },
            justification: r.get("justification"),
            request_id: r.get("request_id"),
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
            last_used_at: r.get("last_used_at"),
            status_reason: r.get("status_reason"),
        })
    }

    pub fn is_live(&self) -> bool {
        matches!(
            self.connection.status,
            ConnectionStatus::Active | ConnectionStatus::Suspended
        )
    }
}

/// A connection to create (a seed from the configuration, or a final approval).
pub struct NewConnection<'a> {
    pub client_id: &'a str,
    pub resource_app: &'a str,
    pub scopes: &'a ScopeCondition,
    pub allowed_groups: &'a [String],
    pub allowed_resources: &'a [String],
    pub step_up: &'a [StepUpRule],
    pub id_jag_lifetime: Option<u64>,
    pub expires_at: Option<i64>,
    pub approved_by: &'a [String],
    pub justification: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl<'a> NewConnection<'a> {
    /// `client_id` to `resource_app` for `scopes`, with nothing else: no
    /// group or resource limits, no step-up, the default ID-JAG lifetime, no
    /// expiry, no approver, justification or request on record. Set the rest
    /// with struct update syntax.
    pub fn new(client_id: &'a str, resource_app: &'a str, scopes: &'a ScopeCondition) -> Self {
        Self {
            client_id,
            resource_app,
            scopes,
            allowed_groups: &[],
            allowed_resources: &[],
            step_up: &[],
            id_jag_lifetime: None,
            expires_at: None,
            approved_by: &[],
            justification: None,
            request_id: None,
        }
    }
}

/// What a modification sets (the caller merged it with the current row).
pub struct ConnectionChange<'a> {
    pub scopes: &'a ScopeCondition,
    pub allowed_groups: &'a [String],
    pub allowed_resources: &'a [String],
    pub step_up: &'a [StepUpRule],
    pub id_jag_lifetime: Option<u64>,
    pub expires_at: Option<i64>,
}

/// Which connections an inventory page, a bulk action or a review campaign covers.
#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    /// `None`: every status.
    pub status: Option<ConnectionStatus>,
    /// Only active or suspended ones.
    pub live_only: bool,
    pub client_id: Option<String>,
    pub resource_app: Option<String>,
    /// Not used since this time (or never).
    pub unused_since: Option<i64>,
    /// Allowed to this group.
    pub group: Option<String>,
    /// Open to someone in these groups (open to everyone counts).
    pub user_groups: Option<Vec<String>>,
    /// Free text: in the client, app or connection id, or one of these ids
    /// (clients and apps whose configured names match).
    pub text: Option<TextSearch>,
    /// At least this `risk_rank`.
    pub min_risk_rank: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct TextSearch {
    pub needle: String,
    pub named_clients: Vec<String>,
    pub named_apps: Vec<String>,
}

impl ConnectionFilter {
    /// Whether the filter reads every row anyway (so the count may ride on the page).
    fn scans(&self) -> bool {
        self.text.is_some() || self.user_groups.is_some() || self.group.is_some()
    }

    /// ` FROM connections c WHERE …` and its binds.
    fn sql(&self, b: Backend) -> (String, Vec<Bind>) {
        let mut sql = String::from(" FROM connections c WHERE 1 = 1");
        let mut binds = Vec::new();
        let mut eq = |sql: &mut String, col: &str, v: &str| {
            sql.push_str(&format!(" AND c.{col} = ?"));
            binds.push(Bind::Text(v.into()));
        };
        if let Some(s) = self.status {
            eq(&mut sql, "status", s.as_str());
        }
        if let Some(v) = &self.client_id {
            eq(&mut sql, "client_id", v);
        }
        if let Some(v) = &self.resource_app {
            eq(&mut sql, "resource_app", v);
        }
        if self.live_only {
            sql.push_str(" AND c.status IN ('active', 'suspended')");
        }
        if let Some(t) = self.unused_since {
            sql.push_str(" AND (c.last_used_at IS NULL OR c.last_used_at <= ?)");
            binds.push(Bind::Int(t));
        }
        if let Some(g) = &self.group {
            sql.push_str(&format!(" AND ? IN {}", b.json_values("c.allowed_groups")));
            binds.push(Bind::Text(g.clone()));
        }
        if let Some(groups) = &self.user_groups {
            sql.push_str(" AND (c.allowed_groups = '[]'");
            if !groups.is_empty() {
                sql.push_str(&format!(
                    " OR EXISTS (SELECT 1 FROM {} g WHERE g.value IN ({}))",
                    b.json_values("c.allowed_groups"),
                    vec!["?"; groups.len()].join(", ")
                ));
                binds.extend(groups.iter().cloned().map(Bind::Text));
            }
            sql.push(')');
        }
        if let Some(t) = &self.text {
            let Some(like) = like_pattern(&t.needle) else {
                sql.push_str(" AND 1 = 0");
                return (sql, binds);
            };
            let op = b.ilike();
            sql.push_str(&format!(
                " AND (c.client_id {op} ? ESCAPE '\\' OR c.resource_app {op} ? ESCAPE '\\' OR c.id {op} ? ESCAPE '\\'"
            ));
            binds.extend((0..3).map(|_| Bind::Text(like.clone())));
            for (col, ids) in [
                ("client_id", &t.named_clients),
                ("resource_app", &t.named_apps),
            ] {
                if !ids.is_empty() {
                    sql.push_str(&format!(
                        " OR c.{col} IN ({})",
                        vec!["?"; ids.len()].join(", ")
                    ));
                    binds.extend(ids.iter().cloned().map(Bind::Text));
                }
            }
            sql.push(')');
        }
        if let Some(r) = self.min_risk_rank {
            // `risk_rank` is kept by triggers from the scope catalogue (migration 0005).
            sql.push_str(" AND c.risk_rank >= ?");
            binds.push(Bind::Int(r));
        }
        (sql, binds)
    }
}

/// A LIKE pattern matching `needle` anywhere, with `%`, `_` and `\\` literal
/// (use with `ESCAPE '\\'`). `None` when the needle holds a NUL: SQLite's LIKE
/// stops at one (so `%\0%` would match every row), and no searchable text holds
/// one, so such a search matches nothing.
pub fn like_pattern(needle: &str) -> Option<String> {
    if needle.contains('\0') {
        return None;
    }
    Some(format!(
        "%{}%",
        needle
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    ))
}

/// The inventory's orders.
#[derive(Debug, Clone)]
pub enum ConnectionOrder {
    Created,
    LastUsed,
    /// By display name: (client id, name) pairs from the configuration.
    ClientName(Vec<(String, String)>),
    AppName(Vec<(String, String)>),
    Risk,
}

impl ConnectionOrder {
    fn sql(&self) -> (String, Vec<Bind>) {
        let by_name = |names: &[(String, String)], col: &str| {
            if names.is_empty() {
                return (format!("c.{col}, c.id"), vec![]);
            }
            let mut sql = format!("CASE c.{col}");
            let mut binds = Vec::new();
            for (id, name) in names {
                sql.push_str(" WHEN ? THEN ?");
                binds.push(Bind::Text(id.clone()));
                binds.push(Bind::Text(name.clone()));
            }
            sql.push_str(&format!(" ELSE c.{col} END, c.id"));
            (sql, binds)
        };
        match self {
            ConnectionOrder::Created => ("c.created_at DESC, c.id".into(), vec![]),
            ConnectionOrder::LastUsed => ("c.last_used_at DESC NULLS LAST, c.id".into(), vec![]),
            ConnectionOrder::ClientName(n) => by_name(n, "client_id"),
            ConnectionOrder::AppName(n) => by_name(n, "resource_app"),
            ConnectionOrder::Risk => ("c.risk_rank DESC, c.id".into(), vec![]),
        }
    }
}

/// One page of connections matching `f` in `order`, and the total match count.
pub async fn page(
    c: &mut Conn,
    f: &ConnectionFilter,
    order: &ConnectionOrder,
    offset: usize,
    limit: usize,
) -> DbResult<(Vec<ConnectionRow>, i64)> {
    let (filter, binds) = f.sql(Backend::of(c));
    let (order, order_binds) = order.sql();
    let (rows, total) = sql_page(
        c,
        "c.*",
        &filter,
        &binds,
        &order,
        &order_binds,
        offset,
        limit,
        f.scans(),
    )
    .await?;
    let rows = rows
        .iter()
        .map(ConnectionRow::decode)
        .collect::<DbResult<Vec<_>>>()?;
    Ok((rows, total))
}

/// Every connection matching `f`, by app then client (a review campaign's items).
pub async fn matching(c: &mut Conn, f: &ConnectionFilter) -> DbResult<Vec<ConnectionRow>> {
    let b = Backend::of(c);
    let (filter, binds) = f.sql(b);
    bound(
        sqlx::query(sql_owned(
            b,
            format!("SELECT c.*{filter} ORDER BY c.resource_app, c.client_id, c.id"),
        )),
        &binds,
    )
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(ConnectionRow::decode)
    .collect()
}

/// The connection with this id.
pub async fn get(c: &mut Conn, id: &str) -> DbResult<Option<ConnectionRow>> {
    sqlx::query(sql(
        Backend::of(c),
        "SELECT * FROM connections WHERE id = ?",
    ))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(ConnectionRow::decode)
    .transpose()
}

/// The connection with this id if it is live (active or suspended).
pub async fn get_live(c: &mut Conn, id: &str) -> DbResult<Option<ConnectionRow>> {
    Ok(get(c, id).await?.filter(ConnectionRow::is_live))
}

/// The id of the live connection of (client, app), if any.
pub async fn live_id(
    c: &mut Conn,
    client_id: &str,
    resource_app: &str,
) -> DbResult<Option<String>> {
    sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT id FROM connections WHERE client_id = ? AND resource_app = ? AND status IN ('active', 'suspended')",
    ))
    .bind(client_id)
    .bind(resource_app)
    .fetch_optional(&mut *c)
    .await
}

/// Inserts an active connection; returns its id. With `if_no_live`, nothing is
/// inserted (and `None` returned) when the pair already has a live one.
pub async fn insert(
    c: &mut Conn,
    n: &NewConnection<'_>,
    now: i64,
    if_no_live: bool,
) -> DbResult<Option<String>> {
    let id = format!("conn_{}", uuid::Uuid::new_v4().simple());
    let conflict = if if_no_live {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    let changed = sqlx::query(sql_owned(
        Backend::of(c),
        format!(
            "INSERT INTO connections (id, client_id, resource_app, scope_condition, allowed_groups, allowed_resources, step_up, id_jag_lifetime, expires_at, status, approved_by, justification, request_id, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?){conflict}"
        ),
    ))
    .bind(&id)
    .bind(n.client_id)
    .bind(n.resource_app)
    .bind(json(n.scopes))
    .bind(json(n.allowed_groups))
    .bind(json(n.allowed_resources))
    .bind(json(n.step_up))
    .bind(n.id_jag_lifetime.map(|v| v as i64))
    .bind(n.expires_at)
    .bind(json(n.approved_by))
    .bind(n.justification)
    .bind(n.request_id)
    .bind(now)
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected();
    Ok((changed == 1).then_some(id))
}

/// A final approval of a pair that already has a live connection: it is
/// re-granted (active again, new scopes and approvers).
pub async fn regrant(c: &mut Conn, id: &str, n: &NewConnection<'_>, now: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(c),
        "UPDATE connections SET scope_condition = ?, allowed_groups = ?, allowed_resources = ?, step_up = ?, id_jag_lifetime = ?, expires_at = ?, status = 'active', approved_by = ?, justification = ?, request_id = ?, updated_at = ?, version = version + 1, status_reason = NULL WHERE id = ?",
    ))
    .bind(json(n.scopes))
    .bind(json(n.allowed_groups))
    .bind(json(n.allowed_resources))
    .bind(json(n.step_up))
    .bind(n.id_jag_lifetime.map(|v| v as i64))
    .bind(n.expires_at)
    .bind(json(n.approved_by))
    .bind(n.justification)
    .bind(n.request_id)
    .bind(now)
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Sets what a modification changes.
pub async fn modify(c: &mut Conn, id: &str, m: &ConnectionChange<'_>, now: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(c),
        "UPDATE connections SET scope_condition = ?, allowed_groups = ?, allowed_resources = ?, step_up = ?, id_jag_lifetime = ?, expires_at = ?, updated_at = ?, version = version + 1 WHERE id = ?",
    ))
    .bind(json(m.scopes))
    .bind(json(m.allowed_groups))
    .bind(json(m.allowed_resources))
    .bind(json(m.step_up))
    .bind(m.id_jag_lifetime.map(|l| l as i64))
    .bind(m.expires_at)
    .bind(now)
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// One change of a connection's columns: `set` (`col = ?, …`) with `values`,
/// the update time, and the version (the ETag) bumped.
async fn change(c: &mut Conn, id: &str, set: &str, values: &[Bind], now: i64) -> DbResult<()> {
    let text =
        format!("UPDATE connections SET {set}, updated_at = ?, version = version + 1 WHERE id = ?");
    bound(sqlx::query(sql_owned(Backend::of(c), text)), values)
        .bind(now)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Moves a connection to `status` with the reason shown beside it.
pub async fn set_status(
    c: &mut Conn,
    id: &str,
    status: ConnectionStatus,
    reason: &str,
    now: i64,
) -> DbResult<()> {
    let values = [
        Bind::Text(status.as_str().into()),
        Bind::Text(reason.into()),
    ];
    change(c, id, "status = ?, status_reason = ?", &values, now).await
}

/// Narrows the granted scopes.
pub async fn set_scopes(c: &mut Conn, id: &str, scopes: &ScopeCondition, now: i64) -> DbResult<()> {
    change(
        c,
        id,
        "scope_condition = ?",
        &[Bind::Text(json(scopes))],
        now,
    )
    .await
}

/// Sets the users whose access through the connection was removed.
pub async fn set_excluded_users(
    c: &mut Conn,
    id: &str,
    users: &[String],
    now: i64,
) -> DbResult<()> {
    change(c, id, "excluded_users = ?", &[Bind::Text(json(users))], now).await
}

/// Moves the approval's expiry (a renewal).
pub async fn set_expiry(c: &mut Conn, id: &str, expires_at: i64, now: i64) -> DbResult<()> {
    change(c, id, "expires_at = ?", &[Bind::Int(expires_at)], now).await
}

/// A new version of the connection whose row did not change: something shown
/// with it did (an attestation, a renewal decision), so its ETag moves.
pub async fn touch(c: &mut Conn, id: &str, now: i64) -> DbResult<()> {
    let text = "UPDATE connections SET updated_at = ?, version = version + 1 WHERE id = ?";
    sqlx::query(sql(Backend::of(c), text))
        .bind(now)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Live connections and pending requests per client (the directory's counts).
pub async fn live_and_pending_by_client(c: &mut Conn) -> DbResult<Vec<(String, i64, i64)>> {
    sqlx::query_as(
        "SELECT client_id,
                SUM(CASE WHEN kind = 'c' THEN 1 ELSE 0 END),
                SUM(CASE WHEN kind = 'r' THEN 1 ELSE 0 END)
         FROM (SELECT client_id, 'c' AS kind FROM connections WHERE status IN ('active', 'suspended')
               UNION ALL SELECT client_id, 'r' AS kind FROM connection_requests WHERE status = 'pending') AS x
         GROUP BY client_id",
    )
    .fetch_all(&mut *c)
    .await
}

impl Db {
    /// The live (active or suspended) connection of a pair, if any.
    pub async fn live_connection(
        &self,
        client_id: &str,
        resource_app: &str,
    ) -> DbResult<Option<Connection>> {
        let r = sqlx::query(sql(
            self.backend(),
            "SELECT * FROM connections WHERE client_id = ? AND resource_app = ? AND status IN ('active', 'suspended')",
        ))
        .bind(client_id)
        .bind(resource_app)
        .fetch_optional(self.pool())
        .await?;
        r.as_ref()
            .map(|r| ConnectionRow::decode(r).map(|r| r.connection))
            .transpose()
    }

    /// Inserts a configured connection unless a live one exists for the pair.
    pub async fn seed_connection(&self, n: &NewConnection<'_>, now: i64) -> DbResult<()> {
        let mut c = self.acquire().await?;
        insert(&mut c, n, now, true).await?;
        Ok(())
    }

    /// Records a use (the inventory's "last used"); never moves it back.
    pub async fn touch_connection(&self, id: &str, now: i64) -> DbResult<()> {
        sqlx::query(sql(
            self.backend(),
            "UPDATE connections SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        ))
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
