//! The IPC schema the UI's types are generated from must match the Rust types.
//! `UPDATE_IPC_SCHEMA=1 cargo test -p gatehouse-console --test ipc_schema` rewrites it.

#[test]
fn ipc_json_matches_the_rust_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ipc.json");
    let now = serde_json::to_string_pretty(&console::ipc::document()).unwrap() + "\n";
    if std::env::var("UPDATE_IPC_SCHEMA").is_ok() {
        std::fs::write(path, &now).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).expect("crates/console/ipc.json is checked in");
    assert_eq!(
        checked_in, now,
        "IPC types changed: rerun with UPDATE_IPC_SCHEMA=1, then `npm run gen` in ui/"
    );
}
