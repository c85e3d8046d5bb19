//! IPC commands, generated from the one list in `ipc_commands`: each command is
//! its own Tauri command (so the capability file's per-command permission is the
//! access control) forwarding its request to `console::rpc`, where the logic
//! and its tests live. No command returns a token. What needs the window — the
//! save dialog, the browser for sign-in, the session-changed event — is the
//! [`Window`] shell given to every handler.

use crate::AppState;
use console::rpc::*;
use console::{ErrorCode, session::OpenUrl};
use std::path::PathBuf;
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_dialog::DialogExt;

/// The window's abilities, lent to a command for one call.
pub struct Window<'a> {
    app: &'a AppHandle,
    state: &'a AppState,
}

impl Shell for Window<'_> {
    async fn choose_save_path(&self, save: SaveAs) -> Result<Option<PathBuf>, ConsoleError> {
        // The WebDriver tests cannot drive a native dialog: a debug build may
        // be told where "the person" saves (never a release build).
        #[cfg(debug_assertions)]
        if let Ok(dir) = std::env::var("GATEHOUSE_TEST_SAVE_DIR") {
            return Ok(Some(PathBuf::from(dir).join(&save.file_name)));
        }
        let dialog = self
            .app
            .dialog()
            .file()
            .set_title(save.title)
            .set_file_name(&save.file_name)
            .add_filter(save.label, &[save.ext]);
        let chosen = tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
            .await
            .map_err(|e| {
                ConsoleError::new(ErrorCode::Internal, format!("The save dialog failed: {e}"))
            })?;
        Ok(chosen.and_then(|p| p.into_path().ok()))
    }

    fn opener(&self) -> OpenUrl {
        self.state.open_url()
    }

    fn session_changed(&self) {
        *self.state.start_up_problem.lock().expect("start-up") = None;
        let _ = self.app.emit("session-changed", ());
    }

    fn start_up_problem(&self) -> Option<ConsoleError> {
        self.state
            .start_up_problem
            .lock()
            .expect("start-up")
            .clone()
    }

    fn take_opened_link(&self) -> Option<OpenedLink> {
        self.state.opened_link.lock().expect("link").take()
    }

    fn idp_status(&self) -> IdpStatus {
        self.state.idp_status.lock().expect("status").clone()
    }

    async fn check_update(&self, feed: url::Url) -> UpdateStatus {
        crate::updates::check(self.app, &self.state.update, feed).await
    }

    async fn install_update(&self) -> Result<UpdateStatus, ConsoleError> {
        crate::updates::install(&self.state.update).await
    }
}

macro_rules! forwards {
    ( $( $name:ident ( $req:ty ) -> $res:ty ),* $(,)? ) => {
        $(
            #[tauri::command]
            pub async fn $name(
                app: AppHandle,
                state: State<'_, AppState>,
                req: $req,
            ) -> Result<$res, ConsoleError> {
                let window = Window { app: &app, state: &state };
                console::rpc::$name(&state.console, &window, req).await
            }
        )*

        /// Every command, for `invoke_handler`.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }
    };
}
ipc_commands::with_commands!(forwards);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The capability file grants the window exactly the declared commands and
    /// the two event permissions the live view needs: a command added to the
    /// list without its grant, a grant left behind for a removed command, or a
    /// plugin permission slipped in (fs, shell, http) fails here.
    #[test]
    fn the_capability_grants_exactly_the_declared_commands() {
        let cap: serde_json::Value =
            serde_json::from_str(include_str!("../capabilities/main.json")).unwrap();
        let granted: BTreeSet<String> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().expect("a permission name").to_owned())
            .collect();
        let mut expected: BTreeSet<String> = ipc_commands::NAMES
            .iter()
            .map(|n| ipc_commands::permission(n))
            .collect();
        expected.insert("core:event:allow-listen".into());
        expected.insert("core:event:allow-unlisten".into());
        assert_eq!(granted, expected);
        assert_eq!(cap["windows"], serde_json::json!(["main"]));
    }
}
