//! IPC commands: each takes what the screen sends, calls `crates/console` and the
//! admin API, and returns views or `{code, message}`. No command returns a token.

use crate::AppState;
use admin_api::{ApproveRequest, DecisionResult, Page, RequestView, client::Mutation};
use console::{ConsoleError, SessionView, ipc::RequestDetail};
use tauri::State;

#[tauri::command]
pub async fn session(state: State<'_, AppState>) -> Result<Option<SessionView>, ConsoleError> {
    Ok(state.console.view().await)
}

#[tauri::command]
pub async fn list_requests(
    state: State<'_, AppState>,
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
) -> Result<Page<RequestView>, ConsoleError> {
    let admin = state.console.admin().await?;
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

#[tauri::command]
pub async fn get_request(
    state: State<'_, AppState>,
    id: String,
) -> Result<RequestDetail, ConsoleError> {
    let v = state.console.admin().await?.get_request(&id).await?;
    Ok(RequestDetail {
        request: v.value,
        etag: v.etag,
    })
}

#[tauri::command]
pub async fn approve(
    state: State<'_, AppState>,
    id: String,
    etag: String,
    grant: ApproveRequest,
) -> Result<DecisionResult, ConsoleError> {
    let admin = state.console.admin().await?;
    Ok(admin
        .approve(
            &id,
            &grant,
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await?)
}

#[tauri::command]
pub async fn deny(
    state: State<'_, AppState>,
    id: String,
    etag: String,
    reason: String,
) -> Result<DecisionResult, ConsoleError> {
    let admin = state.console.admin().await?;
    Ok(admin
        .deny(
            &id,
            &reason,
            &Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await?)
}
