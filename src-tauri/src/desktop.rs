//! The desktop around the window: the tray icon with the pending count, a
//! notification for each new pending request, and the live bridge that turns
//! the IdP's change stream into window events (`changes`, `idp-status`).

use crate::AppState;
use console::{
    ipc::IdpStatus,
    live::{self, LiveEvent},
};
use tauri::{
    AppHandle, Emitter, Manager,
    menu::{Menu, MenuItem},
    tray::TrayIconBuilder,
};
use tauri_plugin_notification::NotificationExt;

const TRAY: &str = "gatehouse";

pub fn build_tray(app: &AppHandle) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Gatehouse", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip("Gatehouse")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.show();
                    let _ = w.set_focus();
                }
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Shows the pending count on the tray (tooltip everywhere, label where the
/// platform draws one).
async fn update_tray(app: &AppHandle) {
    let console = app.state::<AppState>().console.clone();
    match console::commands::pending_count(&console).await {
        Ok(n) => {
            if let Some(tray) = app.tray_by_id(TRAY) {
                let text = format!("Gatehouse: {n} pending");
                let _ = tray.set_tooltip(Some(&text));
                let _ = tray.set_title(Some(if n == 0 { String::new() } else { n.to_string() }));
            }
            tracing::info!(pending = n, "tray count updated");
        }
        Err(e) => tracing::debug!(code = ?e.code, "tray count not updated"),
    }
}

async fn notify_new_request(app: &AppHandle, id: &str) {
    let console = app.state::<AppState>().console.clone();
    let Ok(detail) = console::commands::get_request(&console, id).await else {
        return;
    };
    let r = detail.request;
    let body = format!(
        "{} wants {} at {}",
        r.client.name,
        r.scopes
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        r.resource_app.name
    );
    match app
        .notification()
        .builder()
        .title("New AI app connection request")
        .body(body)
        .show()
    {
        Ok(()) => tracing::info!(request = %r.id, "notified of a new pending request"),
        // No notification daemon (a headless session): the tray and queue still show it.
        Err(e) => tracing::info!(request = %r.id, error = %e, "notification not shown"),
    }
}

/// Reminds the signed-in reviewer, at start and every hour, of open review items
/// in campaigns due within three days.
pub fn spawn_review_reminders(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let console = app.state::<AppState>().console.clone();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let Ok(due) = console::commands::review_reminders(&console, now, 3 * 86_400).await
            else {
                continue;
            };
            for (name, open, due_at) in due {
                let days = ((due_at - now).max(0) + 86_399) / 86_400;
                let body = format!("{open} item(s) to review in “{name}”, due in {days} day(s).");
                match app
                    .notification()
                    .builder()
                    .title("Access review due")
                    .body(&body)
                    .show()
                {
                    Ok(()) => tracing::info!(campaign = %name, open, "review reminder shown"),
                    Err(e) => {
                        tracing::info!(campaign = %name, error = %e, "review reminder not shown")
                    }
                }
            }
        }
    });
}

/// Follows the IdP for as long as the app runs.
pub fn spawn_live_bridge(app: AppHandle) {
    let console = app.state::<AppState>().console.clone();
    tauri::async_runtime::spawn(async move {
        live::follow(console, move |event| {
            let app = app.clone();
            match event {
                LiveEvent::Connected | LiveEvent::Disconnected(_) => {
                    let status = match event {
                        LiveEvent::Disconnected(message) => IdpStatus {
                            reachable: false,
                            message: Some(message),
                        },
                        _ => IdpStatus {
                            reachable: true,
                            message: None,
                        },
                    };
                    tracing::info!(reachable = status.reachable, "IdP status");
                    *app.state::<AppState>().idp_status.lock().expect("status") = status.clone();
                    let _ = app.emit("idp-status", status);
                    tauri::async_runtime::spawn(async move { update_tray(&app).await });
                }
                LiveEvent::Change(change) => {
                    let _ = app.emit("changes", &change);
                    use admin_api::ChangeKind;
                    if matches!(
                        change.kind,
                        ChangeKind::RequestCreated
                            | ChangeKind::RequestUpdated
                            | ChangeKind::RequestDecided
                    ) {
                        tauri::async_runtime::spawn(async move {
                            if change.kind == ChangeKind::RequestCreated {
                                notify_new_request(&app, &change.target).await;
                            }
                            update_tray(&app).await;
                        });
                    }
                }
            }
            true
        })
        .await;
    });
}
