fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "session",
            "list_requests",
            "get_request",
            "approve",
            "deny",
        ]),
    ))
    .expect("tauri-build");
}
