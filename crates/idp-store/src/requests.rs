//! `connection_requests` and their side tables (`connection_request_scopes`,
//! `…_resources`, `…_users`, `request_approvals`): what AI apps asked for and
//! were refused, and the decisions on it. The one decoder of a request with its
//! parts, loaded in one query per table whatever the number of requests.

use crate::{
    Backend, Conn, Db, DbResult, changes, from_json, json, known_status, sql, sql::sql_owned,
};
use admin_api::{
    ApprovalView, ApproveRequest, ChangeEvent, ChangeKind, RequestStatus, RequestUserView,
};
use sqlx::{Row, any::AnyRow};
use std::collections::HashMap;

/// A stored request with everything recorded about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: String,
    pub client_id: String,
    pub resource_app: String,
    /// As stored: pending, approved, denied or expired (a pending request with
    /// a first approval is shown as awaiting the second by the views).
    pub status: RequestStatus,
    pub scopes: Vec<String>,
    pub resources: Vec<String>,
    pub users: Vec<RequestUserView>,
    pub approvals: Vec<ApprovalView>,
    pub refused_count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub justification: Option<String>,
    pub decided_by: Vec<String>,
    pub decision_reason: Option<String>,
    pub connection_id: Option<String>,
    pub version: i64,
    /// For a re-approval: the connection and what changed.
    pub reapproval: Option<admin_api::Reapproval>,
    /// The risk and sensitivity of its scopes when it was decided.
    pub decided_rules: Option<Vec<ScopeRule>>,
}

/// A scope's risk and sensitivity at one moment (what a decision was made under).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScopeRule {
    pub scope: String,
    pub risk: admin_api::Risk,
    pub sensitive: bool,
}

/// Records the rules request `id` was decided under (in the decision's transaction).
pub async fn record_decided_rules(tx: &mut Conn, id: &str, rules: &[ScopeRule]) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "UPDATE connection_requests SET decided_rules = ? WHERE id = ?",
    ))
    .bind(json(rules))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn stored_status(s: &str) -> Option<RequestStatus> {
    match s {
        "pending" => Some(RequestStatus::Pending),
        "approved" => Some(RequestStatus::Approved),
        "denied" => Some(RequestStatus::Denied),
        "expired" => Some(RequestStatus::Expired),
        _ => None,
    }
}

impl RequestRow {
    fn decode(r: &AnyRow, p: Parts) -> DbResult<RequestRow> {
        let status: String = r.get("status");
        Ok(RequestRow {
            id: r.get("id"),
            client_id: r.get("client_id"),
            resource_app: r.get("resource_app"),
            status: known_status(stored_status(&status), &status, "request")?,
            scopes: p.scopes,
            resources: p.resources,
            users: p.users,
            approvals: p.approvals,
            refused_count: r.get("refused_count"),
            first_seen: r.get("first_seen"),
            last_seen: r.get("last_seen"),
            justification: r.get("justification"),
            decided_by: r
                .get::<Option<String>, _>("decided_by")
                .map(|d| from_json(&d))
                .transpose()?
                .unwrap_or_default(),
            decision_reason: r.get("decision_reason"),
            connection_id: r.get("connection_id"),
            version: r.get("version"),
            reapproval: r
                .get::<Option<String>, _>("reapproval")
                .map(|j| from_json(&j))
                .transpose()?,
            decided_rules: r
                .get::<Option<String>, _>("decided_rules")
                .map(|j| from_json(&j))
                .transpose()?,
        })
    }
}

/// The parts of a request kept in side tables.
#[derive(Default)]
struct Parts {
    scopes: Vec<String>,
    resources: Vec<String>,
    users: Vec<RequestUserView>,
    approvals: Vec<ApprovalView>,
}

/// Which requests to load.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// `None`: every status (as stored).
    pub status: Option<RequestStatus>,
    pub client_id: Option<String>,
    pub resource_app: Option<String>,
    /// Only these ids.
    pub ids: Option<Vec<String>>,
}

const WHERE: &str = "(?1 = '' OR r.status = ?1) AND (?2 = '' OR r.client_id = ?2) AND (?3 = '' OR r.resource_app = ?3) AND (?4 = '' OR r.id IN {ids})";

/// Every request matching `f`, in no particular order, loaded in five queries.
pub async fn load(c: &mut Conn, f: &RequestFilter) -> DbResult<Vec<RequestRow>> {
    let b = Backend::of(c);
    let ids = f.ids.as_ref().map(json).unwrap_or_default();
    let status = f.status.map(RequestStatus::as_str).unwrap_or("");
    let filter = WHERE.replace("{ids}", &b.json_values("?4"));
    macro_rules! filtered {
        ($head:literal, $tail:literal) => {
            sqlx::query(sql_owned(
                b,
                format!(concat!($head, " WHERE {} ", $tail), filter),
            ))
            .bind(status)
            .bind(f.client_id.as_deref().unwrap_or(""))
            .bind(f.resource_app.as_deref().unwrap_or(""))
            .bind(ids.as_str())
            .fetch_all(&mut *c)
            .await?
        };
    }
    let rows = filtered!("SELECT r.* FROM connection_requests r", "");
    let mut parts: HashMap<String, Parts> = HashMap::with_capacity(rows.len());
    for x in filtered!(
        "SELECT x.request_id, x.scope FROM connection_request_scopes x JOIN connection_requests r ON r.id = x.request_id",
        "ORDER BY x.scope"
    ) {
        parts
            .entry(x.get("request_id"))
            .or_default()
            .scopes
            .push(x.get("scope"));
    }
    for x in filtered!(
        "SELECT x.request_id, x.resource FROM connection_request_resources x JOIN connection_requests r ON r.id = x.request_id",
        "ORDER BY x.resource"
    ) {
        parts
            .entry(x.get("request_id"))
            .or_default()
            .resources
            .push(x.get("resource"));
    }
    for x in filtered!(
        "SELECT x.request_id, x.username, x.groups, x.refused_count FROM connection_request_users x JOIN connection_requests r ON r.id = x.request_id",
        "ORDER BY x.username"
    ) {
        parts
            .entry(x.get("request_id"))
            .or_default()
            .users
            .push(RequestUserView {
                username: x.get("username"),
                groups: from_json(&x.get::<String, _>("groups"))?,
                refused_count: x.get("refused_count"),
            });
    }
    for x in filtered!(
        "SELECT x.request_id, x.approver, x.at, x.grant_json FROM request_approvals x JOIN connection_requests r ON r.id = x.request_id",
        "ORDER BY x.at, x.approver"
    ) {
        parts
            .entry(x.get("request_id"))
            .or_default()
            .approvals
            .push(ApprovalView {
                approver: x.get("approver"),
                at: x.get("at"),
                grant: from_json(&x.get::<String, _>("grant_json"))?,
            });
    }
    rows.iter()
        .map(|r| {
            let p = parts.remove(r.get::<&str, _>("id")).unwrap_or_default();
            RequestRow::decode(r, p)
        })
        .collect()
}

/// One request by id.
pub async fn get(c: &mut Conn, id: &str) -> DbResult<Option<RequestRow>> {
    let f = RequestFilter {
        ids: Some(vec![id.to_owned()]),
        ..Default::default()
    };
    Ok(load(c, &f).await?.pop())
}

/// Records the first of two approvals of a sensitive grant; bumps the version.
pub async fn record_first_approval(
    tx: &mut Conn,
    id: &str,
    approver: &str,
    grant: &ApproveRequest,
    now: i64,
) -> DbResult<()> {
    let b = Backend::of(tx);
    sqlx::query(sql(
        b,
        "INSERT INTO request_approvals (request_id, approver, at, grant_json) VALUES (?, ?, ?, ?)",
    ))
    .bind(id)
    .bind(approver)
    .bind(now)
    .bind(json(grant))
    .execute(&mut *tx)
    .await?;
    bump_version(tx, id).await
}

async fn bump_version(tx: &mut Conn, id: &str) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "UPDATE connection_requests SET version = version + 1 WHERE id = ?",
    ))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks the request decided: approved (with the connection it created) or denied.
pub async fn decide(
    tx: &mut Conn,
    id: &str,
    status: RequestStatus,
    decided_by: &[String],
    reason: Option<&str>,
    connection_id: Option<&str>,
) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "UPDATE connection_requests SET status = ?, decided_by = ?, decision_reason = ?, connection_id = ?, version = version + 1 WHERE id = ?",
    ))
    .bind(status.as_str())
    .bind(json(decided_by))
    .bind(reason)
    .bind(connection_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Pending requests by age: first seen within an hour, a day, a week, or earlier.
pub async fn pending_by_age(c: &mut Conn, now: i64) -> DbResult<[i64; 4]> {
    let r = sqlx::query(sql(
        Backend::of(c),
        "SELECT SUM(CASE WHEN first_seen > ?1 - 3600 THEN 1 ELSE 0 END) AS h1,
                SUM(CASE WHEN first_seen <= ?1 - 3600 AND first_seen > ?1 - 86400 THEN 1 ELSE 0 END) AS d1,
                SUM(CASE WHEN first_seen <= ?1 - 86400 AND first_seen > ?1 - 604800 THEN 1 ELSE 0 END) AS w1,
                SUM(CASE WHEN first_seen <= ?1 - 604800 THEN 1 ELSE 0 END) AS older
         FROM connection_requests WHERE status = 'pending'",
    ))
    .bind(now)
    .fetch_one(&mut *c)
    .await?;
    let n = |col: &str| r.get::<Option<i64>, _>(col).unwrap_or(0);
    Ok([n("h1"), n("d1"), n("w1"), n("older")])
}

/// One sighting of a client wanting a resource app it has no connection to.
pub struct RequestSighting<'a> {
    pub client_id: &'a str,
    pub resource_app: &'a str,
    pub scopes: &'a [String],
    pub resource: Option<&'a str>,
    pub user: Option<(&'a str, &'a [String])>,
    pub justification: Option<&'a str>,
    /// A refused exchange (true) or an explicitly filed request (false).
    pub refused: bool,
}

impl Db {
    /// Creates or updates the pending request for (client, app): adds the scopes,
    /// resources and user, bumps counters; returns the request id and, when what
    /// an approver decides on changed, the change to publish.
    pub async fn upsert_request(
        &self,
        r: &RequestSighting<'_>,
        now: i64,
    ) -> DbResult<(String, Option<ChangeEvent>)> {
        let mut tx = self.begin_read_write().await?;
        let out = upsert_in(&mut tx, r, now).await?;
        tx.commit().await?;
        Ok(out)
    }
}

/// [`Db::upsert_request`] inside the caller's transaction.
pub async fn upsert_in(
    tx: &mut Conn,
    r: &RequestSighting<'_>,
    now: i64,
) -> DbResult<(String, Option<ChangeEvent>)> {
    {
        let b = Backend::of(tx);
        let new_id = format!("req_{}", uuid::Uuid::new_v4().simple());
        let refused = i64::from(r.refused);
        let row = sqlx::query(sql(
            b,
            "INSERT INTO connection_requests (id, client_id, resource_app, refused_count, first_seen, last_seen, justification, status)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')
             ON CONFLICT(client_id, resource_app) WHERE status = 'pending' DO UPDATE SET
                refused_count = connection_requests.refused_count + excluded.refused_count,
                last_seen = excluded.last_seen,
                justification = COALESCE(excluded.justification, connection_requests.justification)
             RETURNING id",
        ))
        .bind(&new_id)
        .bind(r.client_id)
        .bind(r.resource_app)
        .bind(refused)
        .bind(now)
        .bind(now)
        .bind(r.justification)
        .fetch_one(&mut *tx)
        .await?;
        let id: String = row.get("id");
        let created = id == new_id;
        // Only what changes the decision bumps the version (and so the ETag):
        // new scopes, resources, users or a justification; not counters.
        let mut material = r.justification.is_some();
        for s in r.scopes {
            material |= sqlx::query(sql(
                b,
                "INSERT INTO connection_request_scopes (request_id, scope) VALUES (?, ?) ON CONFLICT DO NOTHING",
            ))
            .bind(&id)
            .bind(s)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
        }
        if let Some(res) = r.resource {
            material |= sqlx::query(sql(
                b,
                "INSERT INTO connection_request_resources (request_id, resource) VALUES (?, ?) ON CONFLICT DO NOTHING",
            ))
            .bind(&id)
            .bind(res)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
        }
        if let Some((user, groups)) = r.user {
            let known: i64 = sqlx::query_scalar(sql(
                b,
                "SELECT COUNT(*) FROM connection_request_users WHERE request_id = ? AND username = ?",
            ))
            .bind(&id)
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
            material |= known == 0;
            sqlx::query(sql(
                b,
                "INSERT INTO connection_request_users (request_id, username, groups, refused_count, first_seen, last_seen)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT(request_id, username) DO UPDATE SET
                    refused_count = connection_request_users.refused_count + excluded.refused_count,
                    groups = excluded.groups, last_seen = excluded.last_seen",
            ))
            .bind(&id)
            .bind(user)
            .bind(json(&groups))
            .bind(refused)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let change = if created || material {
            if !created {
                bump_version(tx, &id).await?;
            }
            let kind = if created {
                ChangeKind::RequestCreated
            } else {
                ChangeKind::RequestUpdated
            };
            Some(changes::record(&mut *tx, kind, &id, now * 1000).await?)
        } else {
            None
        };
        Ok((id, change))
    }
}

/// Adds `n` refusals seen up to `last_seen` to request `id` and to its user
/// `username` (repeats counted in memory and written together; counters only,
/// so the version an approver decides on does not move).
pub async fn add_repeated_refusals(
    tx: &mut Conn,
    id: &str,
    username: &str,
    n: i64,
    last_seen: i64,
) -> DbResult<()> {
    let b = Backend::of(tx);
    sqlx::query(sql(
        b,
        "UPDATE connection_requests SET refused_count = refused_count + ?, last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END WHERE id = ?",
    ))
    .bind(n)
    .bind(last_seen)
    .bind(last_seen)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(sql(
        b,
        "UPDATE connection_request_users SET refused_count = refused_count + ?, last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END WHERE request_id = ? AND username = ?",
    ))
    .bind(n)
    .bind(last_seen)
    .bind(last_seen)
    .bind(id)
    .bind(username)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks pending request `id` as the re-approval of a connection (and bumps
/// its version: what an approver decides on changed).
pub async fn set_reapproval(
    tx: &mut Conn,
    id: &str,
    reapproval: &admin_api::Reapproval,
) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "UPDATE connection_requests SET reapproval = ?, version = version + 1 WHERE id = ? AND status = 'pending'",
    ))
    .bind(json(reapproval))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Db {
    /// A request by id.
    pub async fn request(&self, id: &str) -> DbResult<Option<RequestRow>> {
        let mut c = self.acquire().await?;
        get(&mut c, id).await
    }

    /// Ids of requests with the given stored status, oldest first.
    pub async fn request_ids(&self, status: RequestStatus) -> DbResult<Vec<String>> {
        sqlx::query_scalar(sql(
            self.backend(),
            "SELECT id FROM connection_requests WHERE status = ? ORDER BY first_seen, id",
        ))
        .bind(status.as_str())
        .fetch_all(self.pool())
        .await
    }
}

/// Which requests a queue page shows (what SQL can filter).
#[derive(Debug, Clone, Default)]
pub struct RequestPageFilter {
    /// `None`: every stored status.
    pub status: Option<RequestStatus>,
    pub client_id: Option<String>,
    pub resource_app: Option<String>,
    /// First seen at or before this time.
    pub first_seen_before: Option<i64>,
    /// Free text over client, app, justification, requesting users and scopes,
    /// or one of the clients and apps whose names match.
    pub text: Option<crate::connections::TextSearch>,
}

/// The orders SQL can page a queue in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOrder {
    OldestFirst,
    NewestFirst,
    LastSeen,
    MostRefused,
}

impl RequestPageFilter {
    fn sql(&self, b: Backend) -> (String, Vec<crate::page::Bind>) {
        use crate::page::Bind;
        let mut sql = String::from(" FROM connection_requests r WHERE 1 = 1");
        let mut binds = Vec::new();
        for (col, v) in [
            ("status", self.status.map(RequestStatus::as_str)),
            ("client_id", self.client_id.as_deref()),
            ("resource_app", self.resource_app.as_deref()),
        ] {
            if let Some(v) = v {
                sql.push_str(&format!(" AND r.{col} = ?"));
                binds.push(Bind::Text(v.into()));
            }
        }
        if let Some(t) = self.first_seen_before {
            sql.push_str(" AND r.first_seen <= ?");
            binds.push(Bind::Int(t));
        }
        if let Some(t) = &self.text {
            let Some(like) = crate::connections::like_pattern(&t.needle) else {
                sql.push_str(" AND 1 = 0");
                return (sql, binds);
            };
            let op = b.ilike();
            sql.push_str(
                &" AND (r.client_id LIKE ?1x OR r.resource_app LIKE ?1x OR r.justification LIKE ?1x \
                 OR EXISTS (SELECT 1 FROM connection_request_users u WHERE u.request_id = r.id AND u.username LIKE ?1x) \
                 OR EXISTS (SELECT 1 FROM connection_request_scopes s WHERE s.request_id = r.id AND s.scope LIKE ?1x)"
                    .replace("LIKE ?1x", &format!("{op} ? ESCAPE '\\'")),
            );
            binds.extend((0..5).map(|_| Bind::Text(like.clone())));
            for (col, ids) in [
                ("client_id", &t.named_clients),
                ("resource_app", &t.named_apps),
            ] {
                if !ids.is_empty() {
                    sql.push_str(&format!(
                        " OR r.{col} IN ({})",
                        vec!["?"; ids.len()].join(", ")
                    ));
                    binds.extend(ids.iter().cloned().map(Bind::Text));
                }
            }
            sql.push(')');
        }
        (sql, binds)
    }
}

/// The ids of one page of requests matching `f` in `order`, and the total.
pub async fn page_ids(
    c: &mut Conn,
    f: &RequestPageFilter,
    order: RequestOrder,
    offset: usize,
    limit: usize,
) -> DbResult<(Vec<String>, i64)> {
    let (filter, binds) = f.sql(Backend::of(c));
    let order = match order {
        RequestOrder::OldestFirst => "r.first_seen, r.id",
        RequestOrder::NewestFirst => "r.first_seen DESC, r.id",
        RequestOrder::LastSeen => "r.last_seen DESC, r.id",
        RequestOrder::MostRefused => "r.refused_count DESC, r.id",
    };
    let (rows, total) = crate::page::sql_page(
        c,
        "r.id",
        &filter,
        &binds,
        order,
        &[],
        offset,
        limit,
        f.text.is_some(),
    )
    .await?;
    Ok((rows.iter().map(|r| r.get::<String, _>(0)).collect(), total))
}
