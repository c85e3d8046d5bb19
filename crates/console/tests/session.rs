//! The console's logic against the real IdP on loopback (the demo stack). The
//! secret store here is the in-memory FAKE, so these tests can check exactly what
//! is stored; `keychain.rs` covers the real OS keychain.

use console::{Console, ErrorCode, ProfileStore, SecretKind, SecretStore};
use std::{sync::Arc, time::Duration};

mod common;
use common::{browser, world};

#[tokio::test]
async fn browser_sign_in_keeps_the_refresh_token_in_the_store_and_restores_after_restart() {
    let w = world(Duration::from_secs(600)).await;
    let view = w
        .console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "carol", false))
        .await
        .unwrap();
    assert_eq!(view.subject, "carol");
    assert_eq!(view.roles, vec![admin_api::Role::Approver]);
    assert!(!view.mfa);
    let rt1 = w
        .secrets
        .get(&w.profile, SecretKind::RefreshToken)
        .unwrap()
        .expect("refresh token stored");
    assert!(
        !serde_json::to_string(&view).unwrap().contains(&rt1),
        "the view carries no token"
    );
    let requests = w
        .console
        .admin()
        .await
        .unwrap()
        .list_requests(&Default::default())
        .await
        .unwrap();
    assert!(requests.total >= 4);

    // "Restart": a new console over the same profile file and secret store.
    let again = Console::new(
        ProfileStore::new(w._dir.path().join("profiles.json")),
        w.secrets.clone(),
        Duration::from_secs(600),
    );
    let restored = again
        .restore(&w.profile)
        .await
        .unwrap()
        .expect("restored without a prompt");
    assert_eq!(restored.subject, "carol");
    let rt2 = w
        .secrets
        .get(&w.profile, SecretKind::RefreshToken)
        .unwrap()
        .unwrap();
    assert_ne!(rt1, rt2, "the refresh token rotated");
    again.admin().await.unwrap().whoami().await.unwrap();
    // The old console's rotated-away refresh token is now dead at the IdP.
    let old = reqwest::Client::new()
        .post(format!("{}/token", w.demo.info.idp))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt1.as_str()),
            ("client_id", "gatehouse-console"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 400);
}

#[tokio::test]
async fn mfa_sign_in_is_reported_and_satisfies_approver_step_up() {
    let w = world(Duration::from_secs(600)).await;
    let view = w
        .console
        .sign_in_browser(&w.profile, true, browser(&w.demo.info, "oscar", true))
        .await
        .unwrap();
    assert!(view.mfa);
    let who = w.console.admin().await.unwrap().whoami().await.unwrap();
    assert_eq!(who.acr.as_deref(), Some(xaa::ACR_MFA));
}

#[tokio::test]
async fn sign_out_revokes_and_deletes_the_secret() {
    let w = world(Duration::from_secs(600)).await;
    w.console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "dave", false))
        .await
        .unwrap();
    let rt = w
        .secrets
        .get(&w.profile, SecretKind::RefreshToken)
        .unwrap()
        .unwrap();
    w.console.sign_out().await.unwrap();
    assert!(w.secrets.is_empty(), "nothing left in the store");
    assert_eq!(
        w.console.admin().await.unwrap_err().code,
        ErrorCode::NotSignedIn
    );
    let r = reqwest::Client::new()
        .post(format!("{}/token", w.demo.info.idp))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", "gatehouse-console"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "revoked at the IdP");
    assert_eq!(w.console.restore(&w.profile).await.unwrap(), None);
}

#[tokio::test]
async fn an_api_token_signs_in_once_and_restores() {
    let w = world(Duration::from_secs(600)).await;
    // An admin creates a token for automation.
    w.console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "judy", false))
        .await
        .unwrap();
    let created = w
        .console
        .admin()
        .await
        .unwrap()
        .create_api_token(&admin_api::CreateApiToken {
            name: "console".into(),
            roles: vec![admin_api::Role::Auditor],
            expires_in: 3600,
        })
        .await
        .unwrap();
    w.console.sign_out().await.unwrap();
    let view = w
        .console
        .sign_in_api_token(&w.profile, &created.token)
        .await
        .unwrap();
    assert_eq!(view.kind, "api_token");
    assert_eq!(view.roles, vec![admin_api::Role::Auditor]);
    assert_eq!(
        w.secrets
            .get(&w.profile, SecretKind::ApiToken)
            .unwrap()
            .as_deref(),
        Some(created.token.as_str())
    );
    let bad = w
        .console
        .sign_in_api_token(&w.profile, "gh_adm_not-a-token")
        .await
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::SessionExpired);
    assert!(!bad.message.contains("gh_adm_not-a-token"));
}

#[tokio::test]
async fn the_idle_lock_drops_tokens_and_unlock_restores_from_the_store() {
    let w = world(Duration::from_millis(300)).await;
    w.console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "heidi", false))
        .await
        .unwrap();
    w.console.admin().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let e = w.console.admin().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Locked);
    assert!(w.console.is_locked().await);
    w.console
        .restore(&w.profile)
        .await
        .unwrap()
        .expect("unlocked");
    w.console.admin().await.unwrap().whoami().await.unwrap();
}

#[tokio::test]
async fn a_wrong_issuer_or_unreachable_idp_is_refused_when_adding_a_profile() {
    let w = world(Duration::from_secs(600)).await;
    let slash = format!("{}/x", w.demo.info.idp);
    let e = w.console.add_profile("x", &slash, "c").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::DiscoveryFailed);
    let e = w
        .console
        .add_profile("x", "http://127.0.0.1:9", "c")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::IdpUnreachable);
    assert_eq!(w.console.profiles.list().unwrap().len(), 1);
}

use xaa::util::token_shaped;

#[test]
fn the_token_scanner_finds_what_it_must() {
    let t = xaa::util::random_token(32);
    assert_eq!(token_shaped(&format!(r#"{{"a":"{t}"}}"#)), vec![t]);
    assert_eq!(
        token_shaped(r#"{"t":"eyJhbGciOi.eyJzdWIiOi.c2ln"}"#).len(),
        1
    );
    assert_eq!(token_shaped(r#"{"t":"gh_adm_abc"}"#).len(), 1);
    let digest = xaa::util::sha256_hex(b"x");
    assert!(token_shaped(&format!(r#"{{"hash":"{digest}"}}"#)).is_empty());
    let long = xaa::util::random_token(48);
    assert_eq!(token_shaped(&long), vec![long.clone()]);
    assert!(
        token_shaped(r#"{"id":"req_0123456789abcdef0123456789abcdef","etag":"\"v3\""}"#).is_empty()
    );
    // SQL identifiers in a webview's SQLite files are not tokens.
    assert!(
        token_shaped("indexsqlite_autoindex_soup_hsts_policies_1soup_hsts_policies").is_empty()
    );
}

#[tokio::test]
async fn no_ipc_command_response_carries_a_token() {
    use console::commands as c;
    let w = world(Duration::from_secs(600)).await;
    w.console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "carol", false))
        .await
        .unwrap();
    let mut responses: Vec<String> = Vec::new();
    let mut push = |v: &dyn erased::Json| responses.push(v.json());
    push(&c::session(&w.console).await.unwrap());
    let by_age = console::rpc::ListRequestsReq {
        sort: Some(admin_api::RequestSort::Age),
        ..Default::default()
    };
    let page = c::list_requests(&w.console, by_age).await.unwrap();
    push(&page);
    // A request carol may approve alone (not sensitive: no second approver or MFA).
    let plain = page
        .items
        .iter()
        .find(|r| !r.sensitive)
        .expect("a plain request");
    let first = c::get_request(&w.console, &plain.id).await.unwrap();
    push(&first);
    let approved = c::approve(
        &w.console,
        &first.request.id,
        &first.etag,
        &admin_api::ApproveRequest::default(),
    )
    .await;
    let approved_ok = approved.is_ok();
    assert!(approved_ok, "{approved:?}");
    push(
        &approved
            .map_err(|e| serde_json::to_value(e).unwrap())
            .map(|v| serde_json::to_value(v).unwrap()),
    );
    let context = c::request_context(&w.console, &first.request.id)
        .await
        .unwrap();
    assert_eq!(
        context
            .history
            .iter()
            .any(|e| e.actor.as_deref() == Some("carol")),
        approved_ok,
        "the approval is in the request's history exactly when it happened"
    );
    assert!(context.directory_users > 5 && !context.groups.is_empty());
    assert_eq!(
        context.client.as_ref().map(|c| c.client_id.as_str()),
        Some(first.request.client.client_id.as_str())
    );
    push(&context);
    let other = page.items.iter().find(|r| r.id != plain.id).unwrap();
    let second = c::get_request(&w.console, &other.id).await.unwrap();
    push(&second);
    let denied = c::deny(&w.console, &second.request.id, &second.etag, "not now").await;
    push(
        &denied
            .map_err(|e| serde_json::to_value(e).unwrap())
            .map(|v| serde_json::to_value(v).unwrap()),
    );
    // An error response too (stale ETag).
    let stale = c::deny(&w.console, &second.request.id, &second.etag, "again")
        .await
        .unwrap_err();
    push(&stale);
    // Connections, a revocation with its receipts, the audit screens.
    let conns = c::list_connections(&w.console, &admin_api::ConnectionQuery::default())
        .await
        .unwrap();
    push(&conns);
    let one = c::get_connection(&w.console, &conns.items[0].id)
        .await
        .unwrap();
    push(&one);
    let revoked = c::connection_action(
        &w.console,
        &one.connection.id,
        &one.etag,
        admin_api::ConnectionAction::Revoke,
        "offboarding",
    )
    .await
    .unwrap();
    assert_eq!(revoked.status, admin_api::ConnectionStatus::Revoked);
    push(&revoked);
    push(
        &c::get_connection(&w.console, &one.connection.id)
            .await
            .unwrap(),
    );
    let audit = c::audit(&w.console, &admin_api::AuditQuery::default())
        .await
        .unwrap();
    assert!(audit.items.iter().any(|e| e.kind.contains("revoke")));
    push(&audit);
    push(&c::verify_audit(&w.console).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let jsonl = admin_api::AuditExportFormat::Jsonl;
    let export = c::export_audit(&w.console, jsonl, &dir.path().join("audit.jsonl"))
        .await
        .unwrap();
    push(&export);
    push(&c::pending_count(&w.console).await.unwrap());
    let overview = c::overview(&w.console).await.unwrap();
    assert!(!overview.clients.is_empty() && !overview.apps.is_empty());
    assert_eq!(overview.stats.decisions.len(), 14);
    push(&overview);
    let hits: Vec<String> = responses.iter().flat_map(|r| token_shaped(r)).collect();
    assert!(
        hits.is_empty(),
        "token-shaped strings crossed IPC: {hits:?}"
    );
    assert_eq!(responses.len(), 17);
}

mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

#[tokio::test]
async fn an_audit_export_writes_every_event_and_a_bad_format_writes_nothing() {
    use console::commands as c;
    let w = world(Duration::from_secs(600)).await;
    w.console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "heidi", false))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.csv");
    let csv = admin_api::AuditExportFormat::Csv;
    let summary = c::export_audit(&w.console, csv, &path).await.unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written.lines().count(), summary.events + 1, "header + rows");
    let total = c::audit(&w.console, &admin_api::AuditQuery::default())
        .await
        .unwrap()
        .total;
    assert_eq!(summary.events as u64, total);
    // A path that cannot be written: a clear error, nothing left behind.
    let bad = dir.path().join("no-such-dir").join("audit.csv");
    let e = c::export_audit(&w.console, csv, &bad).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(!bad.exists());
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1, "no partial file left behind");
}

#[tokio::test]
async fn the_live_follower_reports_connected_then_each_change_as_it_commits() {
    use console::{commands as c, live};
    let w = world(Duration::from_secs(600)).await;
    w.console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "carol", false))
        .await
        .unwrap();
    let console = Arc::new(w.console);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let follower = tokio::spawn(live::follow(console.clone(), move |e| tx.send(e).is_ok()));
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, live::LiveEvent::Connected);
    let page = c::list_requests(
        &console,
        console::rpc::ListRequestsReq {
            status: Some(admin_api::RequestStatusFilter::Pending),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r = c::get_request(&console, &page.items[0].id).await.unwrap();
    c::deny(&console, &r.request.id, &r.etag, "not needed")
        .await
        .unwrap();
    let change = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    match change {
        live::LiveEvent::Change(ch) => {
            assert_eq!(ch.kind, admin_api::ChangeKind::RequestDecided);
            assert_eq!(ch.target, r.request.id);
        }
        other => panic!("expected the decision, got {other:?}"),
    }
    // The follower's reads do not count as activity: the idle lock still comes.
    assert!(!console.is_locked().await);
    follower.abort();
}

#[tokio::test]
async fn the_profiles_screen_lists_checks_and_forgets_profiles() {
    use console::commands as c;
    let w = world(Duration::from_secs(600)).await;
    let listed = c::profiles(&w.console).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].saved && !listed[0].active);
    // Adding checks discovery and shows what it found; bad input is refused.
    let added = c::add_profile(&w.console, "Again", &w.demo.info.idp, "gatehouse-console")
        .await
        .unwrap();
    assert!(added.discovery.supports_xaa && added.discovery.supports_pkce_s256);
    assert_eq!(added.profile.id, w.profile, "one profile per issuer");
    let e = c::add_profile(&w.console, " ", &w.demo.info.idp, "x")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    let e = c::add_profile(&w.console, "Nowhere", "http://127.0.0.1:9", "x")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::IdpUnreachable);
    let e = c::sign_in_api_token(&w.console, &w.profile, "  ")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    // The active profile cannot be removed; after sign-out it can, with its secrets.
    w.console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "carol", false))
        .await
        .unwrap();
    let listed = c::profiles(&w.console).await.unwrap();
    assert!(listed[0].active);
    let leaks = token_shaped(&serde_json::to_string(&listed).unwrap());
    assert!(leaks.is_empty(), "{leaks:?}");
    let e = c::remove_profile(&w.console, &w.profile).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    c::sign_out(&w.console).await.unwrap();
    c::remove_profile(&w.console, &w.profile).await.unwrap();
    assert!(c::profiles(&w.console).await.unwrap().is_empty());
    assert!(
        w.secrets
            .get(&w.profile, SecretKind::RefreshToken)
            .unwrap()
            .is_none()
    );
}

/// A FAKE window for the IPC handlers: its "browser" is the fake one above,
/// and it cancels any save dialog.
struct FakeWindow(console::session::OpenUrl);

impl console::rpc::Shell for FakeWindow {
    async fn choose_save_path(
        &self,
        _: console::rpc::SaveAs,
    ) -> Result<Option<std::path::PathBuf>, console::ConsoleError> {
        Ok(None)
    }
    fn opener(&self) -> console::session::OpenUrl {
        self.0.clone()
    }
    fn session_changed(&self) {}
    fn idp_status(&self) -> console::ipc::IdpStatus {
        console::ipc::IdpStatus {
            reachable: true,
            message: None,
        }
    }
    fn start_up_problem(&self) -> Option<console::ConsoleError> {
        None
    }
    fn take_opened_link(&self) -> Option<console::links::OpenedLink> {
        None
    }
    async fn check_update(&self, _: url::Url) -> console::updates::UpdateStatus {
        console::updates::UpdateStatus::Unreachable
    }
    async fn install_update(
        &self,
    ) -> Result<console::updates::UpdateStatus, console::ConsoleError> {
        Err(console::ConsoleError::new(
            ErrorCode::NotFound,
            "No update to install.",
        ))
    }
}

/// A locked or absent keychain: the sign-in says so in a sentence a person can
/// act on (never hangs), and the sign-in without saving works with the session
/// in memory — the keychain untouched, lock and unlock still working.
#[tokio::test]
async fn without_a_keychain_sign_in_says_so_and_signing_in_unsaved_keeps_it_in_memory() {
    use console::{SecretStorage, rpc};
    let w = world(Duration::from_secs(600)).await;
    w.secrets
        .fail
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let e = w
        .console
        .sign_in_browser(&w.profile, false, browser(&w.demo.info, "carol", false))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::KeychainUnavailable);
    assert!(
        e.message.contains("Unlock it") && e.message.contains("sign in without saving"),
        "{}",
        e.message
    );
    assert!(w.console.view().await.is_none(), "no half-signed-in state");

    let window = FakeWindow(browser(&w.demo.info, "carol", false));
    let unsaved = rpc::ProfileReq {
        profile_id: w.profile.clone(),
    };
    let view = rpc::sign_in_unsaved(&w.console, &window, unsaved)
        .await
        .unwrap();
    assert_eq!(view.storage, SecretStorage::Memory);
    assert_eq!(w.console.secret_storage(), SecretStorage::Memory);
    assert!(w.secrets.is_empty(), "nothing reached the keychain");
    let page = console::commands::list_requests(&w.console, Default::default())
        .await
        .unwrap();
    assert!(!page.items.is_empty());
    // Locked and unlocked from the in-memory refresh token.
    w.console.lock().await;
    let back = rpc::unlock(&w.console, &window, rpc::NoArgs {})
        .await
        .unwrap()
        .expect("restored from memory");
    assert_eq!(back.storage, SecretStorage::Memory);
}
