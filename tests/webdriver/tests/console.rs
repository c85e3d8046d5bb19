//! The real console window, driven through WebDriver (tauri-driver +
//! WebKitWebDriver) under Xvfb with the real keychain: demo sign-in → the
//! pending queue shows the seeded requests → approve one down-scoped → the
//! agent's next exchange gets exactly the approved scopes → revoke → the agent
//! is refused and the receipt shows. Along the way every IPC command's response
//! is fetched from inside the page and scanned for token-shaped strings, and
//! each screen is saved as a screenshot.
//!
//! Run by `scripts/webdriver-tests.sh` (it builds the app and sets up the
//! display, D-Bus session and keyring); `#[ignore]` keeps plain `cargo test` off it.

use gatehouse_tests::{claims, exchange, expect_oauth, sign_in};
use gatehouse_webdriver_tests::{TauriDriver, Window, demo_info};
use serde_json::json;

fn app_binary() -> String {
    std::env::var("GATEHOUSE_APP").expect("GATEHOUSE_APP: the console binary to drive")
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn approve_down_scoped_then_revoke_is_felt_by_the_agent() {
    let info_file = std::env::var("GATEHOUSE_DEMO_INFO").expect("GATEHOUSE_DEMO_INFO");
    let _ = std::fs::remove_file(&info_file);
    let driver = TauriDriver::start().await;
    let w = Window::open(&driver, &app_binary()).await;
    let info = demo_info(std::path::Path::new(&info_file)).await;

    // The queue shows the seeded requests once the demo approver is signed in.
    w.wait_for("[data-testid=who]", 60, |t| t.contains("carol"))
        .await;
    let client = info.client("code-agent").name.clone();
    let app = info.app("tickets").name.clone();
    w.wait_for("[data-testid=request-row]", 30, |t| {
        t.contains(&client) && t.contains(&app)
    })
    .await;
    assert!(w.count("[data-testid=request-row]").await >= 4);
    w.click_until(
        "[data-testid=request-row]",
        |t| t.contains(&client) && t.contains(&app),
        "[data-testid=request-detail] h2",
        |t| t.contains(&client),
    )
    .await;
    w.screenshot("pending").await;

    // Before: frank's agent is refused.
    let frank = sign_in(&info, "frank", "code-agent", false).await;
    expect_oauth(
        exchange(&info, "code-agent", &frank.id_token, "tickets", None).await,
        xaa::ErrorCode::AccessDenied,
    );

    // Approve down-scoped: drop tickets.comment.
    w.click_css("[data-testid='scope-tickets.comment']").await;
    let approve = w
        .wait_for("[data-testid=approve]", 5, |t| t.contains("1 of 2"))
        .await;
    w.click(&approve).await;
    w.wait_for("[data-testid=notice]", 15, |t| t.contains("Approved"))
        .await;
    w.screenshot("approved").await;

    // The agent's next exchange gets exactly the approved scope.
    let jag = exchange(&info, "code-agent", &frank.id_token, "tickets", None)
        .await
        .expect("granted after approval");
    assert_eq!(claims(&jag.access_token)["scope"], json!("tickets.read"));
    expect_oauth(
        exchange(
            &info,
            "code-agent",
            &frank.id_token,
            "tickets",
            Some("tickets.comment"),
        )
        .await,
        xaa::ErrorCode::InvalidScope,
    );

    // Every IPC command's response, fetched from inside the page, carries no token.
    let walked = w
        .run_async(
            r#"
const done = arguments[arguments.length - 1];
const invoke = window.__TAURI_INTERNALS__.invoke;
(async () => {
  const out = {};
  const call = async (cmd, args) => { try { out[cmd] = await invoke(cmd, args); } catch (e) { out[cmd] = { error: e }; } };
  await call("session", {});
  await call("idp_status", {});
  await call("list_requests", { status: null, q: null, sort: "age" });
  const reqs = out.list_requests.items || [];
  if (reqs.length) await call("get_request", { id: reqs[0].id });
  await call("list_connections", { query: {} });
  const conns = out.list_connections.items || [];
  if (conns.length) await call("get_connection", { id: conns[0].id });
  await call("audit", { query: { limit: 200 } });
  await call("verify_audit", {});
  return JSON.stringify(out);
})().then(done, (e) => done("failed: " + e));
"#,
            json!([]),
        )
        .await;
    let walked = walked.as_str().expect("a JSON string").to_string();
    assert!(walked.starts_with('{'), "the walk failed: {walked}");
    let parsed: serde_json::Value = serde_json::from_str(&walked).unwrap();
    for cmd in [
        "session",
        "list_requests",
        "get_request",
        "list_connections",
        "get_connection",
        "audit",
        "verify_audit",
    ] {
        assert!(
            parsed[cmd].is_object() && parsed[cmd].get("error").is_none(),
            "{cmd} failed in the walk: {}",
            parsed[cmd]
        );
    }
    let leaks = xaa::util::token_shaped(&walked);
    assert!(
        leaks.is_empty(),
        "token-shaped strings crossed IPC: {leaks:?}"
    );

    // Revoke it from the Connections screen, with a reason.
    w.click_css("[data-testid=nav-connections]").await;
    w.click_until(
        "[data-testid=connection-row]",
        |t| t.contains(&client) && t.contains(&app),
        "[data-testid=connection-detail] h2",
        |t| t.contains(&client),
    )
    .await;
    w.screenshot("connections").await;
    w.click_css("[data-testid=revoke]").await;
    let reason = w.wait_for("[data-testid=reason]", 5, |_| true).await;
    w.type_into(&reason, "Code agent retired from the incident workflow")
        .await;
    w.click_css("[data-testid=confirm-action]").await;
    w.wait_for("[data-testid=connection-status]", 15, |t| t == "revoked")
        .await;
    // The receipt of each receiver shows (the tickets app's receiver).
    w.wait_for("[data-testid=receipt]", 20, |t| t.contains("delivered"))
        .await;
    w.screenshot("revoked").await;

    // The agent is refused again.
    expect_oauth(
        exchange(&info, "code-agent", &frank.id_token, "tickets", None).await,
        xaa::ErrorCode::AccessDenied,
    );

    // The audit screen verifies the chain, which now holds both decisions.
    w.click_css("[data-testid=nav-audit]").await;
    w.wait_for("[data-testid=audit-row]", 15, |_| true).await;
    w.click_css("[data-testid=verify]").await;
    w.wait_for("[data-testid=chain]", 15, |t| t.contains("Chain verified"))
        .await;
    w.screenshot("audit").await;
    w.close().await;
}
