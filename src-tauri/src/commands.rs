//! IPC commands: thin forwards to `console::commands`, where the logic and its
//! tests live. No command returns a token.

use crate::AppState;
use admin_api::{ApproveRequest, DecisionResult, Page, RequestView};
use console::{ConsoleError, SessionView, commands as c, ipc::RequestDetail};
use tauri::State;

#[tauri::command]
pub async fn session(state: State<'_, AppState>) -> Result<Option<SessionView>, ConsoleError> {
    c::session(&state.console).await
}

#[tauri::command]
pub async fn list_requests(
    state: State<'_, AppState>,
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
) -> Result<Page<RequestView>, ConsoleError> {
    c::list_requests(&state.console, status, q, sort).await
}

#[tauri::command]
pub async fn get_request(
    state: State<'_, AppState>,
    id: String,
) -> Result<RequestDetail, ConsoleError> {
    c::get_request(&state.console, &id).await
}

#[tauri::command]
pub async fn approve(
    state: State<'_, AppState>,
    id: String,
    etag: String,
    grant: ApproveRequest,
) -> Result<DecisionResult, ConsoleError> {
    c::approve(&state.console, &id, &etag, &grant).await
}

#[tauri::command]
pub async fn deny(
    state: State<'_, AppState>,
    id: String,
    etag: String,
    reason: String,
) -> Result<DecisionResult, ConsoleError> {
    c::deny(&state.console, &id, &etag, &reason).await
}
