//! Tells Tauri every IPC command the window may call (it generates an
//! `allow-<command>` permission for each; `capabilities/main.json` grants them,
//! pinned by a test). The list is `ipc_commands::NAMES`, the one declaration.

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(ipc_commands::NAMES)),
    )
    .expect("tauri-build");
}
