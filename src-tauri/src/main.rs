//! The Gatehouse desktop console: a thin Tauri shell. Commands adapt
//! `crates/console` to IPC; tokens never leave Rust (the webview gets views only).
//! With no IdP profile configured, it runs in demo mode: the demo stack starts
//! in-process and the demo approver is signed in through the same browser sign-in
//! code a remote IdP uses.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod demo_mode;

use console::{Console, KeychainStore, ProfileStore};
use std::{sync::Arc, time::Duration};
use tauri::Manager;

pub struct AppState {
    pub console: Arc<Console>,
    pub demo: tokio::sync::Mutex<Option<demo::Demo>>,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tauri::Builder::default()
        .plugin(tauri_plugin_opener::init())
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
            });
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { demo_mode::start_or_restore(handle).await });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::session,
            commands::list_requests,
            commands::get_request,
            commands::approve,
            commands::deny,
        ])
        .run(tauri::generate_context!())
        .expect("the Gatehouse window failed to start");
}
