//! The desktop around the window: the tray icon with the pending count, a
//! notification for each new pending request (a click opens it), `gatehouse://`
//! links from wherever they come (a second launch, the OS, a notification)
//! handed to the window, the window's size and place remembered, and the live
//! bridge that turns the IdP's change stream into window events (`changes`,
//! `idp-status`).

use crate::AppState;
use console::{
    ipc::IdpStatus,
    links::{self, LinkScreen, OpenedLink},
    live::{self, LiveEvent},
};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
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
            "open" => focus_main(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Brings the main window to the front (shown, restored, focused).
fn focus_main(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Hands a link to the window: kept until the window takes it (`opened_link`),
/// announced with `link-opened`, and the window brought forward. A refused link
/// is shown as a message and does nothing else.
pub fn hand_over(app: &AppHandle, link: OpenedLink) {
    match &link {
        OpenedLink::Open { screen, id } => {
            tracing::info!(screen = screen.as_str(), id = %id, "opening a link")
        }
        OpenedLink::Refused { .. } => tracing::info!("a malformed link was refused"),
    }
    *app.state::<AppState>().opened_link.lock().expect("link") = Some(link);
    let _ = app.emit("link-opened", ());
    focus_main(app);
}

/// A second launch (from a menu, or the OS with a link) ends at once; this
/// instance comes forward and opens the link it was given, if any.
pub fn second_launch(app: &AppHandle, args: Vec<String>) {
    tracing::info!("a second launch handed over to this window");
    match links::from_args(args) {
        Some(link) => hand_over(app, link),
        None => focus_main(app),
    }
}

/// macOS delivers `gatehouse://` links to the running app as events (Linux and
/// Windows start the app with the link as an argument: [`second_launch`]).
pub fn follow_os_links(app: &AppHandle) {
    #[cfg(target_os = "macos")]
    {
        use tauri_plugin_deep_link::DeepLinkExt;
        let handle = app.clone();
        app.deep_link().on_open_url(move |event| {
            if let Some(url) = event.urls().last() {
                hand_over(&handle, links::parse(url.as_str()));
            }
        });
    }
    #[cfg(not(target_os = "macos"))]
    let _ = app;
}

/// Saves the window's size and place half a second after it last moved or
/// changed size (the plugin alone saves only on a clean exit, which a logout
/// or a crash never reaches).
pub fn remember_window_state(app: &AppHandle) {
    use tauri_plugin_window_state::{AppHandleExt, StateFlags};
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let generation = Arc::new(AtomicU64::new(0));
    let handle = app.clone();
    window.on_window_event(move |event| {
        if !matches!(
            event,
            tauri::WindowEvent::Moved(_) | tauri::WindowEvent::Resized(_)
        ) {
            return;
        }
        let mine = generation.fetch_add(1, Ordering::SeqCst) + 1;
        let (generation, handle) = (generation.clone(), handle.clone());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if generation.load(Ordering::SeqCst) != mine {
                return;
            }
            // On the main thread: the plugin reads the window's place there
            // while holding its state lock, and the main thread takes that lock
            // for window events, so saving from a worker could deadlock the two
            // (seen once under WebDriver at a window's close).
            let saver = handle.clone();
            let queued = handle.run_on_main_thread(move || {
                if let Err(e) = saver.save_window_state(StateFlags::all()) {
                    tracing::warn!(error = %e, "window size and place not saved");
                }
            });
            if let Err(e) = queued {
                tracing::warn!(error = %e, "window size and place not saved");
            }
        });
    });
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
    let link = OpenedLink::Open {
        screen: LinkScreen::Requests,
        id: r.id.clone(),
    };
    match notify_with_link(app, "New AI app connection request", &body, link) {
        Ok(()) => tracing::info!(request = %r.id, "notified of a new pending request"),
        // No notification daemon (a headless session): the tray and queue still show it.
        Err(e) => tracing::info!(request = %r.id, error = %e, "notification not shown"),
    }
}

/// How many shown notifications are waiting for a click at once (each holds a
/// thread until it is clicked or closed); past it, they are shown unclickable.
const CLICKABLE_NOTIFICATIONS: u64 = 8;
static WAITING_FOR_CLICK: AtomicU64 = AtomicU64::new(0);

/// A desktop notification that opens `link` when clicked. On Linux it is sent
/// to the notification server directly with a default action (the plugin's
/// notifications cannot be clicked there); elsewhere through the plugin.
#[cfg(target_os = "linux")]
fn notify_with_link(
    app: &AppHandle,
    title: &str,
    body: &str,
    link: OpenedLink,
) -> Result<(), String> {
    let mut note = notify_rust::Notification::new();
    note.appname("Gatehouse").summary(title).body(body);
    let clickable = WAITING_FOR_CLICK.fetch_add(1, Ordering::SeqCst) < CLICKABLE_NOTIFICATIONS;
    if clickable {
        note.action("default", "Open");
    }
    let shown = note.show();
    if !clickable || shown.is_err() {
        WAITING_FOR_CLICK.fetch_sub(1, Ordering::SeqCst);
    }
    let handle = shown.map_err(|e| e.to_string())?;
    if clickable {
        let app = app.clone();
        std::thread::spawn(move || {
            handle.wait_for_action(|action| {
                if action == "default" {
                    tracing::info!("notification clicked");
                    hand_over(&app, link);
                }
            });
            WAITING_FOR_CLICK.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn notify_with_link(
    app: &AppHandle,
    title: &str,
    body: &str,
    _link: OpenedLink,
) -> Result<(), String> {
    app.notification()
        .builder()
        .title(title)
        .body(body)
        .show()
        .map_err(|e| e.to_string())
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
