//! IPC commands: thin forwards to `console::commands`, where the logic and its
//! tests live. No command returns a token. The only things done here are what
//! needs the window: the save dialog, the system browser for a step-up.

use crate::AppState;
use admin_api::{
    ApproveRequest, AuditEventView, AuditQuery, ChainReportView, ConnectionQuery, ConnectionView,
    DecisionResult, ModifyConnection, Page, RequestView,
};
use admin_api::{CampaignView, CreateCampaign, Reassign, ReviewDecisions, ReviewItemView};
use console::{
    ConsoleError, ErrorCode, SessionView, commands as c,
    helpdesk::{self, HelpdeskView, KillResult, TargetKind},
    ipc::{
        ConnectionDetail, ExportSummary, IdpStatus, OverviewView, ProfileAdded, ProfileView,
        RequestContext, RequestDetail,
    },
};
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_dialog::DialogExt;

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
    risk: Option<String>,
) -> Result<Page<RequestView>, ConsoleError> {
    c::list_requests(&state.console, status, q, sort, risk).await
}

#[tauri::command]
pub async fn get_request(
    state: State<'_, AppState>,
    id: String,
) -> Result<RequestDetail, ConsoleError> {
    c::get_request(&state.console, &id).await
}

#[tauri::command]
pub async fn request_context(
    state: State<'_, AppState>,
    id: String,
) -> Result<RequestContext, ConsoleError> {
    c::request_context(&state.console, &id).await
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

/// Re-authenticates with a second factor in the browser (the approver step-up).
#[tauri::command]
pub async fn step_up(state: State<'_, AppState>) -> Result<SessionView, ConsoleError> {
    let open = state.open_url();
    state.console.step_up(open).await
}

#[tauri::command]
pub async fn list_connections(
    state: State<'_, AppState>,
    query: ConnectionQuery,
) -> Result<Page<ConnectionView>, ConsoleError> {
    c::list_connections(&state.console, &query).await
}

#[tauri::command]
pub async fn get_connection(
    state: State<'_, AppState>,
    id: String,
) -> Result<ConnectionDetail, ConsoleError> {
    c::get_connection(&state.console, &id).await
}

#[tauri::command]
pub async fn connection_action(
    state: State<'_, AppState>,
    id: String,
    etag: String,
    action: String,
    reason: String,
) -> Result<ConnectionView, ConsoleError> {
    c::connection_action(&state.console, &id, &etag, &action, &reason).await
}

#[tauri::command]
pub async fn modify_connection(
    state: State<'_, AppState>,
    id: String,
    etag: String,
    change: ModifyConnection,
) -> Result<ConnectionView, ConsoleError> {
    c::modify_connection(&state.console, &id, &etag, &change).await
}

#[tauri::command]
pub async fn audit(
    state: State<'_, AppState>,
    query: AuditQuery,
) -> Result<Page<AuditEventView>, ConsoleError> {
    c::audit(&state.console, &query).await
}

#[tauri::command]
pub async fn verify_audit(state: State<'_, AppState>) -> Result<ChainReportView, ConsoleError> {
    c::verify_audit(&state.console).await
}

/// Asks where to save (a native dialog, owned by Rust: the webview never names a
/// path), then writes the export there. `None` when the person cancels.
#[tauri::command]
pub async fn export_audit(
    app: AppHandle,
    state: State<'_, AppState>,
    format: String,
) -> Result<Option<ExportSummary>, ConsoleError> {
    let (label, ext) = match format.as_str() {
        "csv" => ("CSV", "csv"),
        "jsonl" => ("JSON Lines", "jsonl"),
        _ => {
            return Err(ConsoleError::new(
                ErrorCode::Invalid,
                "Export as csv or jsonl.",
            ));
        }
    };
    let Some(path) = choose_path(
        &app,
        "Export the audit log",
        &format!("gatehouse-audit.{ext}"),
        label,
        ext,
    )
    .await?
    else {
        return Ok(None);
    };
    c::export_audit(&state.console, &format, &path)
        .await
        .map(Some)
}

/// Asks where to save in a native dialog (Rust owns the path: the webview never
/// names one). `None` when the person cancels.
async fn choose_path(
    app: &AppHandle,
    title: &str,
    file_name: &str,
    label: &str,
    ext: &str,
) -> Result<Option<std::path::PathBuf>, ConsoleError> {
    let dialog = app
        .dialog()
        .file()
        .set_title(title)
        .set_file_name(file_name)
        .add_filter(label, &[ext]);
    let chosen = tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
        .await
        .map_err(|e| {
            ConsoleError::new(ErrorCode::Internal, format!("The save dialog failed: {e}"))
        })?;
    Ok(chosen.and_then(|p| p.into_path().ok()))
}

/// Locks now: drops the in-memory tokens (the idle lock does the same by itself).
#[tauri::command]
pub async fn lock(state: State<'_, AppState>) -> Result<(), ConsoleError> {
    state.console.lock().await;
    Ok(())
}

/// Unlocks from the keychain (no browser needed while the refresh token is good).
#[tauri::command]
pub async fn unlock(state: State<'_, AppState>) -> Result<Option<SessionView>, ConsoleError> {
    let Some(view) = state.console.view().await else {
        return Err(ConsoleError::new(
            ErrorCode::NotSignedIn,
            "Sign in to an IdP first.",
        ));
    };
    state.console.restore(&view.profile_id).await
}

#[tauri::command]
pub async fn idp_status(state: State<'_, AppState>) -> Result<IdpStatus, ConsoleError> {
    Ok(state.idp_status.lock().expect("status").clone())
}

#[tauri::command]
pub async fn profiles(state: State<'_, AppState>) -> Result<Vec<ProfileView>, ConsoleError> {
    c::profiles(&state.console).await
}

#[tauri::command]
pub async fn add_profile(
    state: State<'_, AppState>,
    name: String,
    issuer: String,
    client_id: String,
) -> Result<ProfileAdded, ConsoleError> {
    c::add_profile(&state.console, &name, &issuer, &client_id).await
}

#[tauri::command]
pub async fn remove_profile(state: State<'_, AppState>, id: String) -> Result<(), ConsoleError> {
    c::remove_profile(&state.console, &id).await
}

/// Signs in through the system browser (RFC 8252 loopback + PKCE).
#[tauri::command]
pub async fn sign_in_browser(
    app: AppHandle,
    state: State<'_, AppState>,
    profile_id: String,
) -> Result<SessionView, ConsoleError> {
    let open = state.open_url();
    let view = state
        .console
        .sign_in_browser(&profile_id, false, open)
        .await?;
    let _ = app.emit("session-changed", ());
    Ok(view)
}

/// The token comes in once (pasted) and goes to the keychain; it is never sent back.
#[tauri::command]
pub async fn sign_in_api_token(
    app: AppHandle,
    state: State<'_, AppState>,
    profile_id: String,
    token: String,
) -> Result<SessionView, ConsoleError> {
    let view = c::sign_in_api_token(&state.console, &profile_id, &token).await?;
    let _ = app.emit("session-changed", ());
    Ok(view)
}

#[tauri::command]
pub async fn sign_out(app: AppHandle, state: State<'_, AppState>) -> Result<(), ConsoleError> {
    c::sign_out(&state.console).await?;
    let _ = app.emit("session-changed", ());
    Ok(())
}

// ---- help desk ----

#[tauri::command]
pub async fn helpdesk_search(
    state: State<'_, AppState>,
    q: String,
) -> Result<HelpdeskView, ConsoleError> {
    helpdesk::search(&state.console, &q).await
}

#[tauri::command]
pub async fn helpdesk_lookup(
    state: State<'_, AppState>,
    kind: TargetKind,
    id: String,
) -> Result<HelpdeskView, ConsoleError> {
    helpdesk::lookup(&state.console, kind, &id).await
}

#[tauri::command]
pub async fn helpdesk_kill(
    state: State<'_, AppState>,
    kind: TargetKind,
    id: String,
    reason: String,
    dry_run: bool,
) -> Result<KillResult, ConsoleError> {
    helpdesk::kill(&state.console, kind, &id, &reason, dry_run).await
}

#[tauri::command]
pub async fn export_evidence(
    app: AppHandle,
    state: State<'_, AppState>,
    kind: TargetKind,
    id: String,
) -> Result<Option<usize>, ConsoleError> {
    let Some(path) = choose_path(
        &app,
        "Save the evidence bundle",
        &format!("gatehouse-evidence-{id}.json"),
        "JSON",
        "json",
    )
    .await?
    else {
        return Ok(None);
    };
    c::export_evidence(&state.console, kind, &id, &path)
        .await
        .map(Some)
}

// ---- access reviews ----

#[tauri::command]
pub async fn campaigns(state: State<'_, AppState>) -> Result<Vec<CampaignView>, ConsoleError> {
    c::campaigns(&state.console).await
}

#[tauri::command]
pub async fn create_campaign(
    state: State<'_, AppState>,
    body: CreateCampaign,
) -> Result<CampaignView, ConsoleError> {
    c::create_campaign(&state.console, &body).await
}

#[tauri::command]
pub async fn review_items(
    state: State<'_, AppState>,
    id: String,
    mine: bool,
    review_state: Option<String>,
) -> Result<Page<ReviewItemView>, ConsoleError> {
    c::review_items(&state.console, &id, mine, review_state).await
}

#[tauri::command]
pub async fn decide_items(
    state: State<'_, AppState>,
    id: String,
    body: ReviewDecisions,
) -> Result<Vec<ReviewItemView>, ConsoleError> {
    c::decide_items(&state.console, &id, &body).await
}

#[tauri::command]
pub async fn reassign_item(
    state: State<'_, AppState>,
    id: String,
    item: String,
    body: Reassign,
) -> Result<ReviewItemView, ConsoleError> {
    c::reassign_item(&state.console, &id, &item, &body).await
}

#[tauri::command]
pub async fn complete_campaign(
    state: State<'_, AppState>,
    id: String,
) -> Result<CampaignView, ConsoleError> {
    c::complete_campaign(&state.console, &id).await
}

#[tauri::command]
pub async fn export_report(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    format: String,
) -> Result<Option<usize>, ConsoleError> {
    let (label, ext) = match format.as_str() {
        "csv" => ("CSV", "csv"),
        "pdf" => ("PDF", "pdf"),
        _ => {
            return Err(ConsoleError::new(
                ErrorCode::Invalid,
                "Export as csv or pdf.",
            ));
        }
    };
    let Some(path) = choose_path(
        &app,
        "Save the campaign report",
        &format!("access-review-{id}.{ext}"),
        label,
        ext,
    )
    .await?
    else {
        return Ok(None);
    };
    c::export_report(&state.console, &id, &format, &path)
        .await
        .map(Some)
}

#[tauri::command]
pub async fn overview(state: State<'_, AppState>) -> Result<OverviewView, ConsoleError> {
    c::overview(&state.console).await
}
