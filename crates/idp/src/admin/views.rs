//! Building the admin API's views from rows and the configuration (scope risk and
//! descriptions, client and app names).

use crate::{config::ResourceApp, state::Idp};
use admin_api::*;
use sqlx::{Row, SqliteConnection};

pub fn client_ref(idp: &Idp, client_id: &str) -> ClientRef {
    ClientRef {
        client_id: client_id.into(),
        name: idp
            .config
            .client(client_id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| client_id.into()),
    }
}

pub fn app_ref(idp: &Idp, app_id: &str) -> AppRef {
    AppRef {
        id: app_id.into(),
        name: idp
            .config
            .resource_app(app_id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| app_id.into()),
    }
}

pub fn scope_views(app: Option<&ResourceApp>, names: &[String]) -> Vec<ScopeView> {
    names
        .iter()
        .map(|n| match app.and_then(|a| a.scope(n)) {
            Some(d) => ScopeView {
                name: d.name.clone(),
                description: d.description.clone(),
                risk: d.risk,
                sensitive: d.sensitive,
            },
            None => ScopeView {
                name: n.clone(),
                description: "not in the app's catalogue".into(),
                risk: Risk::Admin,
                sensitive: true,
            },
        })
        .collect()
}

fn json_vec<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The parts of a request kept in side tables.
#[derive(Default)]
struct RequestParts {
    scopes: Vec<String>,
    resources: Vec<String>,
    users: Vec<RequestUserView>,
    approvals: Vec<ApprovalView>,
}

/// Which requests to load: all of them with `status` empty.
pub struct RequestFilter<'a> {
    pub status: &'a str,
    pub client_id: Option<&'a str>,
    pub resource_app: Option<&'a str>,
    /// Only these ids (a JSON array, bound as one value).
    pub ids: Option<String>,
}

const REQUEST_WHERE: &str = "(?1 = '' OR r.status = ?1) AND (?2 IS NULL OR r.client_id = ?2) AND (?3 IS NULL OR r.resource_app = ?3) AND (?4 IS NULL OR r.id IN (SELECT value FROM json_each(?4)))";

/// The views of every request matching `f`, loaded in five queries whatever
/// their number (one per table, grouped here), so a 10k queue stays fast.
pub async fn request_views(
    idp: &Idp,
    db: &mut SqliteConnection,
    f: &RequestFilter<'_>,
) -> Result<Vec<RequestView>, sqlx::Error> {
    macro_rules! filtered {
        ($sql:expr) => {
            // Only the constant filter is spliced in; values are bound.
            sqlx::query(sqlx::AssertSqlSafe(format!($sql, w = REQUEST_WHERE)))
                .bind(f.status)
                .bind(f.client_id)
                .bind(f.resource_app)
                .bind(f.ids.as_deref())
                .fetch_all(&mut *db)
                .await?
        };
    }
    let rows = filtered!("SELECT r.* FROM connection_requests r WHERE {w}");
    let mut parts: std::collections::HashMap<String, RequestParts> =
        std::collections::HashMap::with_capacity(rows.len());
    for x in filtered!(
        "SELECT x.request_id, x.scope FROM connection_request_scopes x JOIN connection_requests r ON r.id = x.request_id WHERE {w} ORDER BY x.scope"
    ) {
        parts
            .entry(x.get("request_id"))
            .or_default()
            .scopes
            .push(x.get("scope"));
    }
    for x in filtered!(
        "SELECT x.request_id, x.resource FROM connection_request_resources x JOIN connection_requests r ON r.id = x.request_id WHERE {w} ORDER BY x.resource"
    ) {
        parts
            .entry(x.get("request_id"))
            .or_default()
            .resources
            .push(x.get("resource"));
    }
    for x in filtered!(
        "SELECT x.request_id, x.username, x.groups, x.refused_count FROM connection_request_users x JOIN connection_requests r ON r.id = x.request_id WHERE {w} ORDER BY x.username"
    ) {
        parts
            .entry(x.get("request_id"))
            .or_default()
            .users
            .push(RequestUserView {
                username: x.get("username"),
                groups: json_vec(&x.get::<String, _>("groups"))?,
                refused_count: x.get("refused_count"),
            });
    }
    for x in filtered!(
        "SELECT x.request_id, x.approver, x.at, x.grant_json FROM request_approvals x JOIN connection_requests r ON r.id = x.request_id WHERE {w} ORDER BY x.at"
    ) {
        parts
            .entry(x.get("request_id"))
            .or_default()
            .approvals
            .push(ApprovalView {
                approver: x.get("approver"),
                at: x.get("at"),
                grant: json_vec(&x.get::<String, _>("grant_json"))?,
            });
    }
    rows.iter()
        .map(|r| {
            let p = parts.remove(r.get::<&str, _>("id")).unwrap_or_default();
            build_request_view(idp, r, p)
        })
        .collect()
}

pub async fn request_view(
    idp: &Idp,
    db: &mut SqliteConnection,
    id: &str,
) -> Result<Option<RequestView>, sqlx::Error> {
    let f = RequestFilter {
        status: "",
        client_id: None,
        resource_app: None,
        ids: Some(serde_json::json!([id]).to_string()),
    };
    Ok(request_views(idp, db, &f).await?.pop())
}

fn build_request_view(
    idp: &Idp,
    r: &sqlx::sqlite::SqliteRow,
    p: RequestParts,
) -> Result<RequestView, sqlx::Error> {
    let app_id: String = r.get("resource_app");
    let client_id: String = r.get("client_id");
    let app = idp.config.resource_app(&app_id);
    let scope_views = scope_views(app, &p.scopes);
    let stored: String = r.get("status");
    let status =
        match crate::store::known_status(RequestStatus::parse(&stored), &stored, "request")? {
            RequestStatus::Pending if !p.approvals.is_empty() => {
                RequestStatus::AwaitingSecondApproval
            }
            s => s,
        };
    let decided_by: Option<String> = r.get("decided_by");
    Ok(RequestView {
        id: r.get("id"),
        status,
        client: client_ref(idp, &client_id),
        resource_app: app_ref(idp, &app_id),
        highest_risk: scope_views.iter().map(|s| s.risk).max(),
        sensitive: scope_views.iter().any(|s| s.sensitive),
        scopes: scope_views,
        resources: p.resources,
        users: p.users,
        refused_count: r.get("refused_count"),
        first_seen: r.get("first_seen"),
        last_seen: r.get("last_seen"),
        justification: r.get("justification"),
        approvals: p.approvals,
        decided_by: decided_by
            .map(|d| json_vec(&d))
            .transpose()?
            .unwrap_or_default(),
        decision_reason: r.get("decision_reason"),
        connection_id: r.get("connection_id"),
        version: r.get("version"),
    })
}

pub async fn receipts(
    db: &mut SqliteConnection,
    connection_id: &str,
) -> Result<Vec<ReceiptView>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM revocation_outbox WHERE connection_id = ? ORDER BY created_at_ms, receiver",
    )
    .bind(connection_id)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows.iter().map(receipt_from_row).collect())
}

pub fn receipt_from_row(r: &sqlx::sqlite::SqliteRow) -> ReceiptView {
    let created: i64 = r.get("created_at_ms");
    let delivered: Option<i64> = r.get("delivered_at_ms");
    ReceiptView {
        event_id: r.get("event_id"),
        receiver: r.get("receiver"),
        status: match r.get::<String, _>("status").as_str() {
            "delivered" => ReceiptStatus::Delivered,
            "failed" => ReceiptStatus::Failed,
            _ => ReceiptStatus::Pending,
        },
        attempts: r.get("attempts"),
        created_at_ms: created,
        delivered_at_ms: delivered,
        latency_ms: delivered.map(|d| d - created),
        last_error: r.get("last_error"),
    }
}

pub async fn connection_view(
    idp: &Idp,
    db: &mut SqliteConnection,
    id: &str,
) -> Result<Option<ConnectionView>, sqlx::Error> {
    let Some(r) = sqlx::query("SELECT * FROM connections WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *db)
        .await?
    else {
        return Ok(None);
    };
    let receipts = receipts(db, id).await?;
    Ok(Some(connection_from_row(idp, &r, receipts)?))
}

pub fn connection_from_row(
    idp: &Idp,
    r: &sqlx::sqlite::SqliteRow,
    receipts: Vec<ReceiptView>,
) -> Result<ConnectionView, sqlx::Error> {
    let app_id: String = r.get("resource_app");
    let client_id: String = r.get("client_id");
    let app = idp.config.resource_app(&app_id);
    let scopes: ScopeCondition = json_vec(&r.get::<String, _>("scope_condition"))?;
    let names: Vec<String> = match &scopes {
        ScopeCondition::All => app
            .map(|a| a.scopes.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default(),
        ScopeCondition::IncludeOnly(l) => l.clone(),
    };
    let granted = scope_views(app, &names);
    Ok(ConnectionView {
        id: r.get("id"),
        client: client_ref(idp, &client_id),
        resource_app: app_ref(idp, &app_id),
        status: {
            let s: String = r.get("status");
            crate::store::known_status(ConnectionStatus::parse(&s), &s, "connection")?
        },
        scopes,
        highest_risk: granted.iter().map(|s| s.risk).max(),
        granted_scopes: granted,
        allowed_groups: json_vec(&r.get::<String, _>("allowed_groups"))?,
        excluded_users: json_vec(&r.get::<String, _>("excluded_users"))?,
        allowed_resources: json_vec(&r.get::<String, _>("allowed_resources"))?,
        step_up: json_vec(&r.get::<String, _>("step_up"))?,
        id_jag_lifetime: r.get::<Option<i64>, _>("id_jag_lifetime").map(|v| v as u64),
        expires_at: r.get("expires_at"),
        approved_by: json_vec(&r.get::<String, _>("approved_by"))?,
        justification: r.get("justification"),
        request_id: r.get("request_id"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        last_used_at: r.get("last_used_at"),
        status_reason: r.get("status_reason"),
        version: r.get("version"),
        receipts,
    })
}
