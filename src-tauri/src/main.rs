//! The Gatehouse desktop console: a thin Tauri shell. Commands adapt
//! `crates/console` to IPC; tokens never leave Rust (the webview gets views only).
//! With no IdP profile configured, it runs in demo mode: the demo stack starts
//! in-process and the demo approver is signed in through the same browser sign-in
//! code a remote IdP uses.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod demo_mode;
mod desktop;
mod updates;
mod webview_tuning;

use console::{
    Console, ConsoleError, ErrorCode, KeychainStore, ProfileStore, ipc::IdpStatus, links,
    links::OpenedLink, session::OpenUrl,
};
use std::{sync::Arc, time::Duration};
use tauri::{AppHandle, Manager};
use tauri_plugin_opener::OpenerExt;

pub struct AppState {
    pub console: Arc<Console>,
    pub demo: tokio::sync::Mutex<Option<demo::Demo>>,
    /// How sign-in opens its authorization URL: the system browser, or in demo
    /// mode the demo approver's "browser" that fills in the demo IdP's login form.
    pub open_url: std::sync::Mutex<OpenUrl>,
    pub idp_status: std::sync::Mutex<IdpStatus>,
    /// Why the start-up sign-in did not finish (a locked keychain...), kept
    /// for a window that asks after the `console-error` event went out.
    pub start_up_problem: std::sync::Mutex<Option<ConsoleError>>,
    /// The last `gatehouse://` link handed over and not yet taken by the window.
    pub opened_link: std::sync::Mutex<Option<OpenedLink>>,
    /// The release the last update check downloaded and verified.
    pub update: updates::PendingUpdate,
}

impl AppState {
    pub fn open_url(&self) -> OpenUrl {
        self.open_url.lock().expect("opener").clone()
    }
}

/// Opens URLs in the system browser.
fn system_browser(app: AppHandle) -> OpenUrl {
    Arc::new(move |url: String| {
        app.opener().open_url(url, None::<&str>).map_err(|e| {
            ConsoleError::new(
                ErrorCode::SignInFailed,
                format!("Cannot open the browser: {e}"),
            )
        })
    })
}

fn main() {
    webview_tuning::apply();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tauri::Builder::default()
        // First, so a second launch hands its arguments (a link) over and exits
        // before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            desktop::second_launch(app, args)
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .setup(|app| {
            let dir = app.path().app_config_dir().expect("a config directory");
            let profiles = ProfileStore::new(dir.join("profiles.json"));
            let console = Arc::new(Console::new(
                profiles,
                Arc::new(KeychainStore::default()),
                Duration::from_secs(15 * 60),
            ));
            app.manage(AppState {
                console,
                demo: tokio::sync::Mutex::new(None),
                open_url: std::sync::Mutex::new(system_browser(app.handle().clone())),
                idp_status: std::sync::Mutex::new(IdpStatus {
                    reachable: true,
                    message: None,
                }),
                start_up_problem: std::sync::Mutex::new(None),
                opened_link: std::sync::Mutex::new(None),
                update: Default::default(),
            });
            // Linux and Windows launch the app with the link as an argument;
            // macOS hands it to the running app as an event.
            if let Some(link) = links::from_args(std::env::args()) {
                desktop::hand_over(app.handle(), link);
            }
            desktop::follow_os_links(app.handle());
            desktop::remember_window_state(app.handle());
            if let Err(e) = desktop::build_tray(app.handle()) {
                // No tray host (some desktops): the window still shows the count.
                tracing::warn!(error = %e, "tray icon not available");
            }
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                demo_mode::start_or_restore(handle.clone()).await;
                desktop::spawn_review_reminders(handle.clone());
                desktop::spawn_live_bridge(handle);
            });
            Ok(())
        })
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .expect("the Gatehouse window failed to start");
}
