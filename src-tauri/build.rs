/// Every IPC command the window may call; `capabilities/main.json` grants each one.
const COMMANDS: &[&str] = &[
    "session",
    "list_requests",
    "get_request",
    "request_context",
    "approve",
    "deny",
    "step_up",
    "list_connections",
    "get_connection",
    "connection_action",
    "modify_connection",
    "audit",
    "verify_audit",
    "export_audit",
    "lock",
    "unlock",
    "idp_status",
    "profiles",
    "add_profile",
    "remove_profile",
    "sign_in_browser",
    "sign_in_api_token",
    "sign_out",
    "helpdesk_search",
    "helpdesk_lookup",
    "helpdesk_kill",
    "export_evidence",
    "campaigns",
    "create_campaign",
    "review_items",
    "decide_items",
    "reassign_item",
    "complete_campaign",
    "export_report",
    "overview",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build");
}
