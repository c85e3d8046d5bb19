//! The bodies of the console's IPC commands, written against `Console` so they run
//! (and are tested) without a window; `src-tauri` only forwards to them. Each
//! returns a view for the screen or `{code, message}` — never a token.

use crate::{Console, ConsoleError, SessionView, ipc::RequestDetail};
use admin_api::{ApproveRequest, DecisionResult, Page, RequestView, client::Mutation};

pub async fn session(c: &Console) -> Result<Option<SessionView>, ConsoleError> {
    Ok(c.view().await)
}

pub async fn list_requests(
    c: &Console,
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
) -> Result<Page<RequestView>, ConsoleError> {
    let admin = c.admin().await?;
    let mut query = vec![("limit", "500".to_string())];
    for (k, v) in [("status", status), ("q", q), ("sort", sort)] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            query.push((k, v));
        }
    }
    let page = admin.list_requests(&query).await?;
    tracing::info!(
        shown = page.items.len(),
        total = page.total,
        "pending queue served"
    );
    Ok(page)
}

pub async fn get_request(c: &Console, id: &str) -> Result<RequestDetail, ConsoleError> {
    let v = c.admin().await?.get_request(id).await?;
    Ok(RequestDetail {
        request: v.value,
        etag: v.etag,
    })
}

pub async fn approve(
    c: &Console,
    id: &str,
    etag: &str,
    grant: &ApproveRequest,
) -> Result<DecisionResult, ConsoleError> {
    let admin = c.admin().await?;
    Ok(admin
        .approve(
            id,
            grant,
            &Mutation {
                if_match: Some(etag),
                ..Default::default()
            },
        )
        .await?)
}

pub async fn deny(
    c: &Console,
    id: &str,
    etag: &str,
    reason: &str,
) -> Result<DecisionResult, ConsoleError> {
    let admin = c.admin().await?;
    Ok(admin
        .deny(
            id,
            reason,
            &Mutation {
                if_match: Some(etag),
                ..Default::default()
            },
        )
        .await?)
}
