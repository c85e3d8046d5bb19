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

pub async fn request_view(
    idp: &Idp,
    db: &mut SqliteConnection,
    id: &str,
) -> Result<Option<RequestView>, sqlx::Error> {
    let Some(r) = sqlx::query("SELECT * FROM connection_requests WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *db)
        .await?
    else {
        return Ok(None);
    };
    let scopes: Vec<String> = sqlx::query_scalar(
        "SELECT scope FROM connection_request_scopes WHERE request_id = ? ORDER BY scope",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    let resources: Vec<String> = sqlx::query_scalar(
        "SELECT resource FROM connection_request_resources WHERE request_id = ? ORDER BY resource",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    let mut users = Vec::new();
    for u in sqlx::query("SELECT username, groups, refused_count FROM connection_request_users WHERE request_id = ? ORDER BY username")
        .bind(id)
        .fetch_all(&mut *db)
        .await?
    {
        users.push(RequestUserView {
            username: u.get("username"),
            groups: json_vec(&u.get::<String, _>("groups"))?,
            refused_count: u.get("refused_count"),
        });
    }
    let mut approvals = Vec::new();
    for a in sqlx::query(
        "SELECT approver, at, grant_json FROM request_approvals WHERE request_id = ? ORDER BY at",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?
    {
        approvals.push(ApprovalView {
            approver: a.get("approver"),
            at: a.get("at"),
            grant: json_vec(&a.get::<String, _>("grant_json"))?,
        });
    }
    let app_id: String = r.get("resource_app");
    let client_id: String = r.get("client_id");
    let app = idp.config.resource_app(&app_id);
    let scope_views = scope_views(app, &scopes);
    let status = match RequestStatus::parse(&r.get::<String, _>("status"))
        .unwrap_or(RequestStatus::Expired)
    {
        RequestStatus::Pending if !approvals.is_empty() => RequestStatus::AwaitingSecondApproval,
        s => s,
    };
    let decided_by: Option<String> = r.get("decided_by");
    Ok(Some(RequestView {
        id: r.get("id"),
        status,
        client: client_ref(idp, &client_id),
        resource_app: app_ref(idp, &app_id),
        highest_risk: scope_views.iter().map(|s| s.risk).max(),
        sensitive: scope_views.iter().any(|s| s.sensitive),
        scopes: scope_views,
        resources,
        users,
        refused_count: r.get("refused_count"),
        first_seen: r.get("first_seen"),
        last_seen: r.get("last_seen"),
        justification: r.get("justification"),
        approvals,
        decided_by: decided_by
            .map(|d| json_vec(&d))
            .transpose()?
            .unwrap_or_default(),
        decision_reason: r.get("decision_reason"),
        connection_id: r.get("connection_id"),
        version: r.get("version"),
    }))
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
        status: ConnectionStatus::parse(&r.get::<String, _>("status"))
            .unwrap_or(ConnectionStatus::Expired),
        scopes,
        highest_risk: granted.iter().map(|s| s.risk).max(),
        granted_scopes: granted,
        allowed_groups: json_vec(&r.get::<String, _>("allowed_groups"))?,
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
