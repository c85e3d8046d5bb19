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

use gatehouse_tests::{admin_session, claims, exchange, expect_oauth, sign_in};
use gatehouse_webdriver_tests::{TauriDriver, Window, demo_info};
use serde_json::json;

fn app_binary() -> String {
    std::env::var("GATEHOUSE_APP").expect("GATEHOUSE_APP: the console binary to drive")
}

/// Starts the console in demo mode signed in as `user` (tests run one at a
/// time: the driver and the app inherit this process's environment).
async fn launch(user: &str) -> (TauriDriver, Window, demo::DemoInfo) {
    let dir = std::env::temp_dir().join(format!("gatehouse-wd-{user}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let info_file = dir.join("demo.json");
    let _ = std::fs::remove_file(&info_file);
    // SAFETY: the WebDriver tests run on one thread (--test-threads=1) and set
    // the environment before the driver (and through it the app) is spawned.
    unsafe {
        std::env::set_var("GATEHOUSE_DEMO_USER", user);
        std::env::set_var("GATEHOUSE_DEMO_INFO", &info_file);
    }
    let driver = TauriDriver::start().await;
    let w = Window::open(&driver, &app_binary()).await;
    let info = demo_info(&info_file).await;
    w.wait_for("[data-testid=who]", 60, |t| t.contains(user))
        .await;
    (driver, w, info)
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn approve_down_scoped_then_revoke_is_felt_by_the_agent() {
    let (driver, w, info) = launch("carol").await;

    // The queue shows the seeded requests once the demo approver is signed in.
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
  // Each command takes one request, `{ req }`, as declared in ipc_commands.
  const call = async (cmd, req, key = cmd) => { try { out[key] = await invoke(cmd, { req }); } catch (e) { out[key] = { error: e }; } };
  await call("session", {});
  await call("idp_status", {});
  await call("list_requests", { status: null, q: null, sort: "age" });
  const reqs = out.list_requests.items || [];
  if (reqs.length) await call("get_request", { id: reqs[0].id });
  await call("list_connections", {});
  const conns = out.list_connections.items || [];
  if (conns.length) await call("get_connection", { id: conns[0].id });
  await call("audit", { limit: 200 });
  await call("verify_audit", {});
  if (reqs.length) await call("request_context", { id: reqs[0].id });
  await call("profiles", {});
  await call("overview", {});
  await call("campaigns", {});
  await call("helpdesk_search", { q: "copilot" });
  // A request the declaration does not allow is refused before any handler.
  await call("list_requests", { sort: "shoe_size" }, "bad_sort");
  await call("get_request", { id: "x", bogus: 1 }, "unknown_field");
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
        "idp_status",
        "list_requests",
        "get_request",
        "list_connections",
        "get_connection",
        "audit",
        "verify_audit",
        "request_context",
        "overview",
        "helpdesk_search",
    ] {
        assert!(
            parsed[cmd].is_object() && parsed[cmd].get("error").is_none(),
            "{cmd} failed in the walk: {}",
            parsed[cmd]
        );
    }
    for (case, field) in [("bad_sort", "shoe_size"), ("unknown_field", "bogus")] {
        let e = parsed[case]["error"].as_str().unwrap_or_default();
        assert!(
            e.contains(field),
            "{case} was not refused: {}",
            parsed[case]
        );
    }
    for cmd in ["profiles", "campaigns"] {
        assert!(
            parsed[cmd].is_array(),
            "{cmd} failed in the walk: {}",
            parsed[cmd]
        );
    }
    let leaks = xaa::util::token_shaped(&walked);
    assert!(
        leaks.is_empty(),
        "token-shaped strings crossed IPC: {leaks:?}"
    );

    // The whole picture: an edge per live connection, the charts.
    w.click_css("[data-testid=nav-overview]").await;
    w.wait_for("[data-testid=relationship-map]", 15, |_| true)
        .await;
    assert_eq!(
        w.count("[data-testid=map-edge]").await,
        5,
        "4 seeded + the approval"
    );
    w.wait_for("[data-testid=chart-decisions]", 5, |_| true)
        .await;
    w.screenshot("overview").await;

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

    // Sign out, then look for secrets at rest: nothing token-shaped and none of
    // the world's secrets in the app's config and data directories or in what
    // the app logged, after approve, revoke, audit and sign-out.
    w.click_css("[data-testid=nav-profiles]").await;
    w.click_css("[data-testid=sign-out]").await;
    w.wait_for("body", 15, |t| t.contains("Signed out")).await;
    w.screenshot("signed-out").await;
    let mut secrets: Vec<String> = vec![frank.id_token.clone(), frank.access_token.clone()];
    for u in &info.users {
        secrets.push(u.password.clone());
        secrets.extend(u.totp_secret.clone());
    }
    for c in &info.clients {
        secrets.push(c.client_secret.clone());
        secrets.extend(
            c.resource_credentials
                .iter()
                .map(|r| r.client_secret.clone()),
        );
    }
    let mut places: Vec<(std::path::PathBuf, String)> = Vec::new();
    for var in ["XDG_CONFIG_HOME", "XDG_DATA_HOME"] {
        let dir = std::env::var(var).unwrap_or_else(|_| panic!("{var} is set by the script"));
        places.extend(gatehouse_webdriver_tests::files_as_text(
            std::path::Path::new(&dir),
        ));
    }
    let log = driver.log_text();
    assert!(
        log.contains("gatehouse"),
        "the scan sees what the app logged"
    );
    places.push((driver.log.clone(), log));
    for (path, text) in &places {
        let shaped = xaa::util::token_shaped(text);
        assert!(
            shaped.is_empty(),
            "{} holds token-shaped {shaped:?}",
            path.display()
        );
        for s in secrets.iter().filter(|s| s.len() >= 8) {
            assert!(
                !text.contains(s.as_str()),
                "{} holds a secret",
                path.display()
            );
        }
    }
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn a_reviewer_completes_a_campaign_and_the_agent_feels_it() {
    let (_driver, w, info) = launch("ivan").await;
    let judy = admin_session(&info, "judy", true).await;
    let campaign = judy
        .create_campaign(&admin_api::CreateCampaign {
            name: "Q4 AI app access".into(),
            scope: Default::default(),
            reviewers: vec!["ivan".into()],
            fallback_reviewer: "ivan".into(),
            starts_at: None,
            due_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                + 14 * 86_400,
            default_action: admin_api::ReviewDefault::Keep,
            per_user: false,
            kind: admin_api::CampaignKind::Access,
        })
        .await
        .unwrap();
    // Before: frank's code agent reaches the docs.
    let frank = sign_in(&info, "frank", "code-agent", false).await;
    exchange(
        &info,
        "code-agent",
        &frank.id_token,
        "docs",
        Some("docs.read"),
    )
    .await
    .expect("connected before the review");

    w.click_css("[data-testid=nav-reviews]").await;
    w.wait_for("[data-testid=campaign]", 15, |t| {
        t.contains("Q4 AI app access")
    })
    .await;
    w.wait_for("[data-testid=review-item]", 15, |t| {
        t.contains("never used")
    })
    .await;
    let boxes = w
        .find_all("[data-testid=review-item] input[type=checkbox]")
        .await;
    assert_eq!(boxes.len() as u64, campaign.items);
    for b in &boxes {
        w.click(b).await;
    }
    w.screenshot("reviews").await;
    // Everything was unused: revoking follows the recommendation, no reason needed.
    w.click_css("[data-testid=review-revoke]").await;
    w.wait_for("[data-testid=notice]", 15, |t| t.contains("revoked"))
        .await;
    w.wait_for("[data-testid=campaign]", 15, |t| {
        t.contains("4/4 decided") && t.contains("completed")
    })
    .await;
    w.screenshot("reviews-done").await;

    // The agent feels it; the report says who decided what, and the PDF opens.
    expect_oauth(
        exchange(
            &info,
            "code-agent",
            &frank.id_token,
            "docs",
            Some("docs.read"),
        )
        .await,
        xaa::ErrorCode::AccessDenied,
    );
    let csv = String::from_utf8(
        judy.review_report(&campaign.id, admin_api::ReportFormat::Csv)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(csv.lines().count() as u64, campaign.items + 1);
    assert_eq!(
        csv.matches("\"ivan\"").count() as u64,
        2 * campaign.items,
        "reviewer and decider"
    );
    let pdf = judy
        .review_report(&campaign.id, admin_api::ReportFormat::Pdf)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.starts_with("%PDF-1.4") && text.contains("revoked"));
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn the_help_desk_kill_switch_is_felt_by_the_agent() {
    let (_driver, w, info) = launch("dave").await;
    let grace = sign_in(&info, "grace", "support-copilot", false).await;
    exchange(&info, "support-copilot", &grace.id_token, "tickets", None)
        .await
        .expect("in use before the kill switch");

    w.click_css("[data-testid=nav-helpdesk]").await;
    let search = w
        .wait_for("[data-testid=helpdesk-search]", 10, |_| true)
        .await;
    w.type_into(&search, "copilot").await;
    w.click_css("form.toolbar button[type=submit]").await;
    w.wait_for("[data-testid=helpdesk-target]", 15, |t| {
        t.contains("Support Copilot")
    })
    .await;
    w.wait_for("[data-testid=live-connections]", 5, |t| t == "1")
        .await;
    let reason = w.wait_for("[data-testid=kill-reason]", 5, |_| true).await;
    w.type_into(&reason, "copilot token found in a public repo")
        .await;
    // The exact count first.
    w.click_css("[data-testid=kill-check]").await;
    w.wait_for("[data-testid=kill-count]", 15, |t| {
        t.contains("exactly 1 connection")
    })
    .await;
    w.screenshot("helpdesk-count").await;
    w.click_css("[data-testid=kill-confirm]").await;
    // Revoking needs a fresh second factor: re-authenticate, and it goes through.
    w.click_until(
        "[data-testid=helpdesk-step-up] button",
        |t| t.contains("Re-authenticate"),
        "[data-testid=kill-receipt]",
        |t| t.contains("delivered"),
    )
    .await;
    w.screenshot("helpdesk").await;
    expect_oauth(
        exchange(&info, "support-copilot", &grace.id_token, "tickets", None).await,
        xaa::ErrorCode::AccessDenied,
    );
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn an_approver_follows_a_kill_and_reinstates_exactly_what_it_turned_off() {
    let (_driver, w, info) = launch("carol").await;
    let grace = sign_in(&info, "grace", "support-copilot", false).await;
    let dave = gatehouse_tests::admin_session(&info, "dave", true).await;
    let killed = dave
        .bulk_revoke(
            &admin_api::BulkRevoke {
                client_id: Some("support-copilot".into()),
                reason: "copilot token found in a public repo".into(),
                ..Default::default()
            },
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(killed.connections_revoked, 1);
    expect_oauth(
        exchange(&info, "support-copilot", &grace.id_token, "tickets", None).await,
        xaa::ErrorCode::AccessDenied,
    );

    w.click_css("[data-testid=nav-helpdesk]").await;
    w.wait_for("[data-testid=kill-progress]", 30, |t| {
        t.contains("1 connection(s)") && t.contains("1/1 delivered")
    })
    .await;
    w.click_css("[data-testid=reinstate]").await;
    w.wait_for("[data-testid=kills]", 10, |t| {
        t.contains("Support Copilot → Service Desk: back to active")
    })
    .await;
    let reason = w
        .wait_for("[data-testid=reinstate-reason]", 10, |_| true)
        .await;
    w.type_into(&reason, "the leaked token was never valid for this client")
        .await;
    w.screenshot("helpdesk-reinstate").await;
    w.click_css("[data-testid=reinstate-confirm]").await;
    // Reinstating needs a fresh second factor: re-authenticate, and it goes through.
    w.click_until(
        "[data-testid=reinstate-step-up] button",
        |t| t.contains("Re-authenticate"),
        "[data-testid=kill-reinstated]",
        |t| t.contains("by carol: 1 back on"),
    )
    .await;
    // The reinstatement's own events reach the receiver too.
    w.wait_for("[data-testid=kill-progress]", 30, |t| {
        t.contains("2/2 delivered")
    })
    .await;
    w.screenshot("helpdesk-reinstated").await;
    exchange(&info, "support-copilot", &grace.id_token, "tickets", None)
        .await
        .expect("works again");
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn a_sensitive_scope_without_step_up_is_a_finding_remedied_in_one_click() {
    use admin_api::client::Mutation;
    let (_driver, w, info) = launch("carol").await;
    // support-copilot gets crm.export (sensitive) with no step-up rule: two approvals.
    let oscar = gatehouse_tests::admin_session(&info, "oscar", true).await;
    let judy = gatehouse_tests::admin_session(&info, "judy", true).await;
    let r = judy
        .list_requests(&gatehouse_tests::query(&[("status", "pending".into())]))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.client.client_id == "support-copilot" && r.resource_app.id == "crm")
        .unwrap();
    let at = |v: i64| format!("\"v{v}\"");
    let first = judy
        .approve(
            &r.id,
            &Default::default(),
            &Mutation {
                if_match: Some(&at(r.version)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // oscar owns support-copilot, so he may not confirm it; carol does.
    let e = oscar
        .approve(
            &r.id,
            &Default::default(),
            &Mutation {
                if_match: Some(&at(first.request.version)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let carol = gatehouse_tests::admin_session(&info, "carol", true).await;
    carol
        .approve(
            &r.id,
            &Default::default(),
            &Mutation {
                if_match: Some(&at(first.request.version)),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    w.click_css("[data-testid=nav-overview]").await;
    w.wait_for("[data-testid=finding]", 30, |t| {
        t.contains("Support Copilot → CRM grants sensitive crm.export")
    })
    .await;
    w.screenshot("overview-findings").await;
    w.click_css("[data-testid=finding-remedy]").await;
    w.wait_for("[data-testid=notice]", 20, |t| t.contains("Remedied"))
        .await;
    w.wait_for("[data-testid=findings]", 20, |t| {
        t.contains("No finding open")
    })
    .await;
    let conn = judy
        .list_connections(&gatehouse_tests::query(&[
            ("client_id", "support-copilot".into()),
            ("resource_app", "crm".into()),
        ]))
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(conn.step_up.iter().any(|s| s.scope == "crm.export"));
    w.screenshot("overview-findings-remedied").await;
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn the_demo_with_its_history_has_something_on_every_screen() {
    // SAFETY: one test thread; set before the app is spawned, removed after.
    unsafe { std::env::set_var("GATEHOUSE_DEMO_HISTORY", "7") };
    let launched = launch("judy").await;
    unsafe { std::env::remove_var("GATEHOUSE_DEMO_HISTORY") };
    let (_driver, w, _info) = launched;
    let plan = demo::history::plan(7);
    w.wait_for("[data-testid=request-row]", 30, |_| true).await;
    assert!(
        w.count("[data-testid=request-row]").await >= 4 + plan.pending.len(),
        "the seeded queue and the history's"
    );
    w.screenshot("history-pending").await;
    w.click_css("[data-testid=nav-overview]").await;
    w.wait_for("[data-testid=finding]", 30, |_| true).await;
    assert!(w.count("[data-testid=map-edge]").await >= 4 + plan.connections.len());
    // The orphaned client is flagged on the map.
    assert_eq!(w.count("[data-testid=map-orphaned]").await, 1);
    w.wait_for("[data-testid=map-orphaned-count]", 10, |t| {
        t.to_lowercase().contains("1 orphaned")
    })
    .await;
    w.screenshot("history-overview").await;
    w.click_css("[data-testid=nav-directory]").await;
    w.wait_for("[data-testid=people]", 30, |_| true).await;
    w.screenshot("history-people").await;
    w.click_css("[data-testid=directory-tab-clients]").await;
    w.wait_for("[data-testid=client-row]", 30, |_| true).await;
    assert_eq!(
        w.count("[data-testid=client-row][data-orphaned=true]")
            .await,
        1,
        "the orphaned client"
    );
    w.screenshot("history-directory").await;
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn a_link_from_a_second_launch_opens_its_request_and_a_bad_link_only_says_so() {
    let (driver, w, _info) = launch("carol").await;
    w.wait_for("[data-testid=request-row]", 30, |_| true).await;
    // The queue as the window's own IPC lists it: the last request whose
    // (client, app) pair is unique, so its detail heading names only it.
    let page = w
        .run_async(
            r#"
const done = arguments[arguments.length - 1];
window.__TAURI_INTERNALS__.invoke("list_requests", { req: {} }).then(done, (e) => done({ error: e }));
"#,
            json!([]),
        )
        .await;
    let items = page["items"].as_array().expect("the queue").clone();
    let pair = |r: &serde_json::Value| {
        (
            r["client"]["name"].as_str().unwrap().to_owned(),
            r["resource_app"]["name"].as_str().unwrap().to_owned(),
        )
    };
    let target = items
        .iter()
        .rev()
        .find(|r| items.iter().filter(|o| pair(o) == pair(r)).count() == 1)
        .expect("a request with a unique (client, app) pair");
    let (client, app) = pair(target);
    let id = target["id"].as_str().unwrap().to_owned();

    // A second launch with the link (as the OS starts the app for a link) hands
    // it to this window and ends.
    let second = |link: String| {
        tokio::task::spawn_blocking(move || {
            let mut child = std::process::Command::new(app_binary())
                .arg(link)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("a second launch");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    return status;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the second launch did not hand over and exit"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    let status = second(format!("gatehouse://requests/{id}")).await.unwrap();
    assert!(status.success(), "{status}");
    w.wait_for("[data-testid=request-detail] h2", 30, |t| {
        t.contains(&client) && t.contains(&app)
    })
    .await;
    w.screenshot("deep-link").await;

    let before = w.count("[data-testid=request-row]").await;
    let status = second("gatehouse://requests/x?approve=1".into())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    let alert = w
        .wait_for("[role=alert]", 30, |t| {
            t.contains("This link cannot be opened")
        })
        .await;
    let text = w.text(&alert).await;
    assert!(text.contains("gatehouse://requests/ID"), "{text}");
    assert!(
        !text.contains("approve=1"),
        "the link is not echoed: {text}"
    );
    // Nothing else happened: the same request is shown, the queue unchanged.
    let heading = w
        .wait_for("[data-testid=request-detail] h2", 5, |_| true)
        .await;
    assert!(w.text(&heading).await.contains(&client));
    assert_eq!(w.count("[data-testid=request-row]").await, before);
    w.screenshot("bad-link").await;
    w.close().await;
    drop(driver);
}

/// One IPC call from inside the page, as the UI makes it: `{ req }`; an error
/// comes back as `{ "error": … }`.
async fn invoke(w: &Window, cmd: &str, req: serde_json::Value) -> serde_json::Value {
    w.run_async(
        r#"
const [cmd, req, done] = arguments;
window.__TAURI_INTERNALS__.invoke(cmd, { req }).then(done, (e) => done({ error: e }));
"#,
        json!([cmd, req]),
    )
    .await
}

/// `tauri signer sign` (the Tauri CLI from npm) of `file` for `version` with the
/// test's key: the `.sig` content a feed carries.
fn sign(file: &std::path::Path, version: &str) -> String {
    let cli = std::env::var("GATEHOUSE_TAURI_CLI").expect("GATEHOUSE_TAURI_CLI");
    let key = std::env::var("GATEHOUSE_UPDATER_TEST_KEY").expect("GATEHOUSE_UPDATER_TEST_KEY");
    let out = std::process::Command::new(cli)
        .args([
            "signer",
            "sign",
            "-f",
            &key,
            "-p",
            "",
            "--app-version",
            version,
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(format!("{}.sig", file.display())).unwrap()
}

/// Updates against a feed served on loopback, the app built with its key (a
/// debug build takes the test's public key from GATEHOUSE_UPDATER_PUBKEY): a
/// release signed by that key is downloaded, verified and offered, never
/// installed by looking; the same signature over other bytes, a release with
/// no signature, and one signed for another version than the feed announces
/// are refused with a sentence; a feed that does not answer is a quiet line,
/// no alert. The Profiles screen shows the offer and its Install button.
#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn an_update_is_offered_only_when_its_signature_verifies_and_a_silent_feed_stays_quiet() {
    use axum::{Router, extract::Path, routing::get};
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("gatehouse_9.9.9_amd64.deb");
    std::fs::write(&release, b"!<arch>\nthe 9.9.9 release".repeat(512)).unwrap();
    let signed = sign(&release, "9.9.9");
    let other = dir.path().join("other.deb");
    std::fs::write(&other, b"!<arch>\nsomething else".repeat(512)).unwrap();
    let older = dir.path().join("older.deb");
    std::fs::write(&older, b"!<arch>\nthe 9.9.8 release".repeat(512)).unwrap();
    let older_sig = sign(&older, "9.9.8");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let feed = |file: &str, signature: Option<&str>| {
        let mut platform = json!({ "url": format!("{base}/files/{file}") });
        if let Some(s) = signature {
            platform["signature"] = json!(s);
        }
        json!({
            "version": "9.9.9",
            "notes": "Faster queue",
            "pub_date": "2026-12-01T10:00:00Z",
            "platforms": { "linux-x86_64": platform },
        })
        .to_string()
    };
    let feeds = std::collections::HashMap::from([
        ("signed", feed("release.deb", Some(&signed))),
        ("tampered", feed("other.deb", Some(&signed))),
        ("unsigned", feed("release.deb", None)),
        ("relabelled", feed("older.deb", Some(&older_sig))),
    ]);
    let files = std::collections::HashMap::from([
        ("release.deb", std::fs::read(&release).unwrap()),
        ("other.deb", std::fs::read(&other).unwrap()),
        ("older.deb", std::fs::read(&older).unwrap()),
    ]);
    let app = Router::new()
        .route(
            "/feeds/{name}",
            get(move |Path(name): Path<String>| {
                let body = feeds.get(name.trim_end_matches(".json")).cloned();
                async move { body.ok_or(axum::http::StatusCode::NOT_FOUND) }
            }),
        )
        .route(
            "/files/{name}",
            get(move |Path(name): Path<String>| {
                let body = files.get(name.as_str()).cloned();
                async move { body.ok_or(axum::http::StatusCode::NOT_FOUND) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let silent = format!(
        "http://127.0.0.1:{}/feeds/signed.json",
        gatehouse_tests::free_port()
    );

    let binary_before = std::fs::read(app_binary()).unwrap();
    let (driver, w, _info) = launch("carol").await;
    let session = invoke(&w, "session", json!({})).await;
    let profile = session["profile_id"]
        .as_str()
        .expect("signed in")
        .to_owned();
    let check = |url: String| {
        let w = &w;
        let profile = profile.clone();
        async move {
            let set = invoke(
                w,
                "set_update_feed",
                json!({ "profile_id": profile, "feed": url }),
            )
            .await;
            assert_eq!(set["profile"]["update_feed"], json!(url), "{set}");
            invoke(w, "check_update", json!({})).await
        }
    };

    let offered = check(format!("{base}/feeds/signed.json")).await;
    assert_eq!(offered["state"], "offered", "{offered}");
    assert_eq!(offered["version"], "9.9.9");
    assert_eq!(offered["notes"], "Faster queue");

    for (name, says) in [
        ("tampered", "does not verify"),
        ("unsigned", "without a signature"),
        ("relabelled", "tampered"),
    ] {
        let r = check(format!("{base}/feeds/{name}.json")).await;
        assert_eq!(r["state"], "refused", "{name}: {r}");
        let message = r["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
    }
    // Nothing verified is held after a refusal: there is nothing to install.
    let none = invoke(&w, "install_update", json!({})).await;
    assert_eq!(none["error"]["code"], "not_found", "{none}");

    let quiet = check(silent.clone()).await;
    assert_eq!(quiet, json!({ "state": "unreachable" }));
    // A feed that is not https is refused before it is saved (a release build
    // takes no loopback http either).
    let plain = invoke(
        &w,
        "set_update_feed",
        json!({ "profile_id": profile, "feed": "http://updates.example.com/latest.json" }),
    )
    .await;
    assert_eq!(plain["error"]["code"], "invalid", "{plain}");

    // What the person sees: the offer on the Profiles screen, with its button.
    check(format!("{base}/feeds/signed.json")).await;
    w.click_css("[data-testid=nav-profiles]").await;
    w.wait_for("[data-testid=update-status]", 30, |t| {
        t.contains("9.9.9 is available") && t.contains("signature is verified")
    })
    .await;
    assert_eq!(w.count("[data-testid=install-update]").await, 1);
    w.screenshot("update-offered").await;

    // A silent feed: a quiet line and no alert to dismiss.
    invoke(
        &w,
        "set_update_feed",
        json!({ "profile_id": profile, "feed": silent }),
    )
    .await;
    w.click_css("[data-testid=nav-pending]").await;
    w.click_css("[data-testid=nav-profiles]").await;
    w.wait_for("[data-testid=update-status]", 60, |t| {
        t.contains("could not be reached")
    })
    .await;
    assert_eq!(
        w.count("[role=alert]").await,
        0,
        "no alert for a silent feed"
    );
    w.screenshot("update-unreachable").await;

    assert!(
        std::fs::read(app_binary()).unwrap() == binary_before,
        "checking never installs"
    );
    w.close().await;
    drop(driver);
}

/// Waits until `check` holds (polling every 100 ms), or fails naming `what`.
/// The value of the `key` line of a secret file the console wrote.
fn secret_line(file: &std::path::Path, key: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap()
        .to_owned()
}

/// A secret the console saved to `file`: long, owner-only, and nowhere on the page.
async fn saved_secret_off_the_page(w: &Window, file: &std::path::Path, key: &str) -> String {
    let secret = secret_line(file, key);
    assert!(secret.len() >= 40);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let page = w
        .run_async(
            "arguments[0](document.documentElement.outerHTML)",
            serde_json::json!([]),
        )
        .await;
    assert!(
        !page.as_str().unwrap_or_default().contains(&secret),
        "the secret reached the webview"
    );
    secret
}

async fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A new request's desktop notification, shown by a real notification server
/// (dunst, on this test's D-Bus session and display) and clicked there
/// (`dunstctl action`, its default action): the console comes forward at that
/// request. The request is made new for the test — a refused exchange of a
/// (client, app) pair that has neither a request nor a connection.
#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn clicking_a_new_request_notification_opens_that_request() {
    let mut dunst = std::process::Command::new("dunst")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dunst (Debian's package) runs as the notification server");
    eventually("dunst owns org.freedesktop.Notifications", 30, || {
        std::process::Command::new("dunstctl")
            .arg("is-paused")
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .await;
    let (driver, w, info) = launch("carol").await;
    w.wait_for("[data-testid=request-row]", 30, |_| true).await;

    let requests = invoke(&w, "list_requests", json!({ "status": "all" })).await;
    let connections = invoke(&w, "list_connections", json!({ "status": "all" })).await;
    let taken: std::collections::BTreeSet<(String, String)> = requests["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(connections["items"].as_array().unwrap())
        .map(|r| {
            (
                r["client"]["client_id"].as_str().unwrap().to_owned(),
                r["resource_app"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (client, app) = info
        .clients
        .iter()
        .flat_map(|c| info.resource_apps.iter().map(move |a| (c, a)))
        .find(|(c, a)| !taken.contains(&(c.client_id.clone(), a.id.clone())))
        .expect("a (client, app) pair with no request and no connection");
    // Only this test's notification on screen: earlier ones (a review reminder,
    // requests seeded before the window opened) are closed first.
    run("dunstctl", &["close-all"]);
    let signed = sign_in(&info, "alice", &client.client_id, false).await;
    expect_oauth(
        exchange(
            &info,
            &client.client_id,
            &signed.id_token,
            &app.id,
            Some(&app.scopes[0]),
        )
        .await,
        xaa::ErrorCode::AccessDenied,
    );

    eventually("dunst shows the new-request notification", 30, || {
        run("dunstctl", &["count", "displayed"])
            .parse::<u32>()
            .is_ok_and(|n| n >= 1)
    })
    .await;
    w.screenshot("notification-shown").await;
    // Away from the queue first, so the click is what brings the request up.
    w.click_css("[data-testid=nav-audit]").await;
    // Click the newest notification; one that is not ours (a late reminder) is
    // closed and the next one clicked.
    let mut opened = false;
    for _ in 0..5 {
        run("dunstctl", &["action", "0"]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !opened && std::time::Instant::now() < deadline {
            let h2 = w
                .run_async(
                    "const done = arguments[arguments.length - 1]; const h = document.querySelector('[data-testid=request-detail] h2'); done(h ? h.textContent : '');",
                    json!([]),
                )
                .await;
            let t = h2.as_str().unwrap_or("");
            opened = t.contains(&client.name) && t.contains(&app.name);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        if opened {
            break;
        }
        run("dunstctl", &["close"]);
    }
    assert!(opened, "clicking the notification opened its request");
    w.wait_for("[data-testid=request-detail]", 10, |t| {
        t.contains(&app.scopes[0])
    })
    .await;
    w.screenshot("notification-clicked").await;
    w.close().await;
    drop(driver);
    let _ = dunst.kill();
    let _ = dunst.wait();
}

/// The window's size comes back from the window-state file at launch, and a
/// resize is saved to it half a second later without the app exiting (a
/// logout or a crash never reaches the plugin's save-on-exit).
#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn the_window_comes_back_at_its_saved_size_and_a_resize_is_saved() {
    let config = std::env::var("XDG_CONFIG_HOME").expect("XDG_CONFIG_HOME: the run's config");
    let state = std::path::Path::new(&config)
        .join("dev.gatehouse.console")
        .join(".window-state.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(
        &state,
        json!({ "main": {
            "width": 1000, "height": 640, "x": 40, "y": 30, "prev_x": 40, "prev_y": 30,
            "maximized": false, "visible": true, "decorated": true, "fullscreen": false
        }})
        .to_string(),
    )
    .unwrap();
    let (driver, w, _info) = launch("carol").await;
    async fn size(w: &Window) -> (i64, i64) {
        let v = w
            .run_async(
                "arguments[0]([window.innerWidth, window.innerHeight])",
                json!([]),
            )
            .await;
        (v[0].as_i64().unwrap(), v[1].as_i64().unwrap())
    }
    assert_eq!(size(&w).await, (1000, 640), "the saved size is restored");

    let ids = run(
        "xdotool",
        &["search", "--onlyvisible", "--name", "^Gatehouse$"],
    );
    let id = ids
        .lines()
        .next()
        .expect("the console's X window")
        .to_owned();
    run("xdotool", &["windowsize", &id, "1100", "720"]);
    let mut saved = (0, 0);
    eventually("the resize is saved to the window-state file", 20, || {
        if let Ok(text) = std::fs::read_to_string(&state)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        {
            saved = (
                v["main"]["width"].as_i64().unwrap_or(0),
                v["main"]["height"].as_i64().unwrap_or(0),
            );
        }
        saved == (1100, 720)
    })
    .await;
    assert_eq!(size(&w).await, (1100, 720));
    w.close().await;
    drop(driver);
    let _ = std::fs::remove_file(&state);
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn the_directory_shows_where_people_came_from_and_a_deprovisioned_person() {
    let (_driver, w, info) = launch("carol").await;
    w.click_css("[data-testid=nav-directory]").await;
    w.wait_for("[data-testid=people]", 20, |t| t.contains("frank"))
        .await;
    assert_eq!(w.count("[data-testid=person-row]").await, info.users.len());
    assert_eq!(
        w.count("[data-testid=person-row][data-active=false]").await,
        0
    );

    // The company's IdP deprovisions frank over SCIM (the demo's connector token).
    let http = reqwest::Client::new();
    let found: serde_json::Value = http
        .get(format!(
            "{}/Users?filter=userName%20eq%20%22frank%22",
            info.scim_url
        ))
        .bearer_auth(&info.scim_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = found["Resources"][0]["id"].as_str().unwrap().to_owned();
    let r = http
        .patch(format!("{}/Users/{id}", info.scim_url))
        .bearer_auth(&info.scim_token)
        .header("content-type", "application/scim+json")
        .body(
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The change feed brings it to the open screen: frank is listed as
    // deactivated, the count says so (no navigation, no refresh).
    w.wait_for("[data-testid=person-row][data-username=frank]", 20, |t| {
        t.contains("Deactivated")
    })
    .await;
    w.wait_for("[data-testid=deactivated-count]", 5, |t| {
        t.contains("1 deactivated")
    })
    .await;
    w.screenshot("directory-people").await;

    // Deprovisioning a client's only owner leaves the client orphaned.
    let found: serde_json::Value = http
        .get(format!(
            "{}/Users?filter=userName%20eq%20%22heidi%22",
            info.scim_url
        ))
        .bearer_auth(&info.scim_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let heidi = found["Resources"][0]["id"].as_str().unwrap().to_owned();
    let r = http
        .delete(format!("{}/Users/{heidi}", info.scim_url))
        .bearer_auth(&info.scim_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    w.click_css("[data-testid=directory-tab-clients]").await;
    w.wait_for("[data-testid=orphaned-count]", 20, |t| {
        t.contains("1 orphaned")
    })
    .await;
    w.click_css("[data-testid=orphaned-only]").await;
    w.wait_for("[data-testid=clients]", 10, |t| {
        t.contains("Research Assistant") && !t.contains("Code Assistant")
    })
    .await;
    w.screenshot("directory-orphaned").await;
    w.click_css("[data-testid=directory-tab-groups]").await;
    w.wait_for("[data-testid=groups]", 10, |t| t.contains("iam-approvers"))
        .await;
    w.screenshot("directory-groups").await;
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn a_riskier_scope_brings_its_connection_to_the_queue_for_reapproval() {
    let (_driver, w, info) = launch("carol").await;
    w.wait_for("[data-testid=request-row]", 30, |_| true).await;
    // An admin makes docs.write destructive (judy, through the admin API).
    let token = gatehouse_tests::admin_token(&info, "judy", false).await;
    let http = reqwest::Client::new();
    let url = format!("{}/admin/v1/resource-apps/docs", info.idp);
    let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let mut docs: serde_json::Value = r.json().await.unwrap();
    for s in docs["scopes"].as_array_mut().unwrap() {
        if s["name"] == "docs.write" {
            s["risk"] = "destructive".into();
        }
    }
    let r = http
        .patch(&url)
        .bearer_auth(&token)
        .header("if-match", etag)
        .json(&serde_json::json!({ "scopes": docs["scopes"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The open queue shows the re-approval (through the change feed) with what changed.
    w.wait_for("[data-testid=reapproval-tag]", 20, |t| {
        t.contains("re-approval")
    })
    .await;
    let rows = w.find_all("[data-testid=request-row]").await;
    let mut target = None;
    for row in rows {
        if w.text(&row).await.contains("re-approval") {
            target = Some(row);
            break;
        }
    }
    w.click(&target.expect("a re-approval row")).await;
    w.wait_for("[data-testid=reapproval]", 10, |t| {
        t.contains("docs.write") && t.contains("destructive") && t.contains("keeps working")
    })
    .await;
    w.screenshot("pending-reapproval").await;
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn an_admin_registers_a_client_whose_secret_goes_only_to_the_chosen_file() {
    let saves = tempfile::tempdir().unwrap();
    // SAFETY: one test thread; set before the app is spawned (see `launch`).
    unsafe { std::env::set_var("GATEHOUSE_TEST_SAVE_DIR", saves.path()) };
    let (_driver, w, info) = launch("judy").await;
    w.click_css("[data-testid=nav-directory]").await;
    w.click_css("[data-testid=directory-tab-clients]").await;
    w.click_css("[data-testid=register-client]").await;
    let field = |id: &'static str| format!("[data-testid={id}]");
    for (id, text) in [
        ("new-client-name", "Sales Copilot"),
        ("new-client-id", "sales-copilot"),
        ("new-client-owners", "alice"),
        ("new-client-sponsor", "heidi"),
        ("new-client-successors", "bob, grace"),
        ("new-client-redirects", demo::REDIRECT_URI),
    ] {
        let e = w.wait_for(&field(id), 10, |_| true).await;
        w.type_into(&e, text).await;
    }
    w.screenshot("directory-register-form").await;
    w.click_css("[data-testid=register-submit]").await;
    w.wait_for("[data-testid=clients]", 20, |t| t.contains("Sales Copilot"))
        .await;
    // Who answers for it, and who takes over, as the IdP stored them.
    w.wait_for(
        "[data-client-id=sales-copilot] [data-testid=client-succession]",
        10,
        |t| t.contains("heidi") && t.contains("then bob, grace"),
    )
    .await;
    // The secret is in the chosen file (owner-only), and nowhere on the page.
    let file = saves.path().join("sales-copilot.credentials");
    let read_secret = || secret_line(&file, "client_secret=");
    let secret = saved_secret_off_the_page(&w, &file, "client_secret=").await;
    w.screenshot("directory-client-registered").await;
    // It works at once.
    let creds = agent::ClientCreds {
        client_id: "sales-copilot".into(),
        client_secret: secret.clone(),
    };
    let alice = info.user("alice");
    agent::sign_in(
        &agent::http_client(),
        &info.idp,
        &creds,
        demo::REDIRECT_URI,
        &agent::UserCreds {
            username: "alice".into(),
            password: alice.password.clone(),
            totp_secret: alice.totp_secret.clone(),
        },
        &Default::default(),
    )
    .await
    .expect("the registered client signs alice in");
    // Rotating writes a new secret to the file; the old one works for the overlap.
    let rows = w.find_all("[data-testid=client-row]").await;
    let mut rotate = None;
    for row in &rows {
        if w.attribute(row, "data-client-id").await.as_deref() == Some("sales-copilot") {
            rotate = w.find_in(row, "[data-testid=rotate-secret]").await;
        }
    }
    w.click(&rotate.expect("a rotate button")).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while read_secret() == secret {
        assert!(
            std::time::Instant::now() < deadline,
            "the file never got a new secret"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_ne!(read_secret(), secret);
    w.screenshot("directory-secret-rotated").await;
    // Editing: a new name and a second owner, at the version shown.
    let rows = w.find_all("[data-testid=client-row]").await;
    let mut edit = None;
    for row in &rows {
        if w.attribute(row, "data-client-id").await.as_deref() == Some("sales-copilot") {
            edit = w.find_in(row, "[data-testid=edit-client]").await;
        }
    }
    w.click(&edit.expect("an edit button")).await;
    let name = w
        .wait_for("[data-testid=new-client-name]", 10, |_| true)
        .await;
    w.type_into(&name, " EU").await;
    let owners = w
        .wait_for("[data-testid=new-client-owners]", 10, |_| true)
        .await;
    w.type_into(&owners, ", bob").await;
    w.click_css("[data-testid=register-submit]").await;
    w.wait_for("[data-testid=clients]", 20, |t| {
        t.contains("Sales Copilot EU")
    })
    .await;
    let token = gatehouse_tests::admin_token(&info, "judy", false).await;
    let saved: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/admin/v1/clients/sales-copilot", info.idp))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved["name"], "Sales Copilot EU");
    assert_eq!(saved["owners"], json!(["alice", "bob"]));
    assert_eq!(saved["sponsor"], "heidi");
    assert_eq!(
        saved["successors"],
        json!(["grace"]),
        "bob, an owner now, is no successor"
    );
    assert_eq!(saved["redirect_uris"], json!([demo::REDIRECT_URI]));
    w.close().await;
    unsafe { std::env::remove_var("GATEHOUSE_TEST_SAVE_DIR") };
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn an_admin_sets_the_lifecycle_policies_and_runs_them_from_the_reviews_screen() {
    let (_driver, w, info) = launch("judy").await;
    w.click_css("[data-testid=nav-reviews]").await;
    w.wait_for("[data-testid=policy-summary]", 20, |t| {
        t.contains("never suspended") && t.contains("never expire")
    })
    .await;
    w.click_css("[data-testid=policy-edit]").await;
    for (id, text) in [("policy-inactivity", "30"), ("policy-pending", "14")] {
        let e = w
            .wait_for(&format!("[data-testid={id}]"), 10, |_| true)
            .await;
        w.type_into(&e, text).await;
    }
    w.screenshot("reviews-policies-edit").await;
    w.click_css("[data-testid=policy-save]").await;
    w.wait_for("[data-testid=policy-summary]", 20, |t| {
        t.contains("suspended after 30 days") && t.contains("expire after 14 days")
    })
    .await;
    // As the IdP stored them, at version 1.
    let token = gatehouse_tests::admin_token(&info, "judy", false).await;
    let saved: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/admin/v1/policies", info.idp))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["policies"]["inactivity_days"], 30);
    assert_eq!(saved["policies"]["inactivity_warning_days"], 7);
    assert_eq!(saved["policies"]["pending_request_days"], 14);
    w.click_css("[data-testid=policy-run]").await;
    w.wait_for("[data-testid=notice]", 20, |t| {
        t.contains("Policies applied: 0 requests expired")
    })
    .await;
    w.screenshot("reviews-policies").await;
    w.close().await;
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn an_approver_sees_the_owners_attestation_and_renews_an_approval_before_it_ends() {
    use admin_api::client::Mutation;
    let (_driver, w, info) = launch("judy").await;
    // Through the API: support-copilot → tickets made time-bound, owners asked.
    let carol = gatehouse_tests::admin_session(&info, "carol", false).await;
    let oscar = gatehouse_tests::admin_session(&info, "oscar", false).await;
    let judy = gatehouse_tests::admin_session(&info, "judy", false).await;
    let conn = carol
        .list_connections(&gatehouse_tests::query(&[
            ("client_id", "support-copilot".into()),
            ("resource_app", "tickets".into()),
        ]))
        .await
        .unwrap()
        .items
        .remove(0);
    let now = judy.policies().await.unwrap().value.now;
    let conn = carol
        .modify_connection(
            &conn.id,
            &admin_api::ModifyConnection {
                expires_at: Some(now + 20 * 86_400),
                reason: "quarterly re-certification".into(),
                ..Default::default()
            },
            &Mutation {
                if_match: Some(&format!("\"v{}\"", conn.version)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let policies: admin_api::LifecyclePolicies =
        serde_json::from_value(serde_json::json!({"attestation_days": 30})).unwrap();
    judy.set_policies(
        &policies,
        &Mutation {
            if_match: Some("\"v0\""),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(judy.run_policies().await.unwrap().attestations_requested, 1);
    // oscar, an owner of support-copilot, says it is still needed.
    oscar
        .attest(
            &conn.id,
            &admin_api::AttestBody {
                still_needed: true,
                reason: "drafts every ticket reply".into(),
            },
            &Mutation {
                if_match: Some(&format!("\"v{}\"", conn.version)),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    w.click_css("[data-testid=nav-connections]").await;
    w.click_until(
        "[data-testid=connection-row]",
        |t| t.contains("Support Copilot") && t.contains("Service Desk"),
        "[data-testid=connection-detail] h2",
        |t| t.contains("Support Copilot"),
    )
    .await;
    w.wait_for("[data-testid=attestation]", 20, |t| {
        t.contains("oscar says still needed") && t.contains("drafts every ticket reply")
    })
    .await;
    w.screenshot("connection-attested").await;
    // judy (admin, no owner) renews it for 120 days.
    w.click_css("[data-testid=renewal-renew]").await;
    let days = w.wait_for("[data-testid=renew-days]", 10, |_| true).await;
    w.type_into(&days, "120").await;
    let day = chrono_day(now + 120 * 86_400);
    let reason = w
        .wait_for("[data-testid=renewal-reason]", 10, |_| true)
        .await;
    w.type_into(&reason, "owner attested; renewed for the next quarter")
        .await;
    w.click_css("[data-testid=confirm-renewal]").await;
    w.wait_for("[data-testid=notice]", 20, |t| t.contains("Renewed until"))
        .await;
    w.wait_for("[data-testid=approval-end] h3", 20, |t| t.contains(&day))
        .await;
    let renewed = judy.get_connection(&conn.id).await.unwrap().value;
    assert_eq!(
        renewed.expires_at.map(chrono_day).as_deref(),
        Some(day.as_str())
    );
    let events = judy
        .audit(&gatehouse_tests::query(&[(
            "kind",
            "connection.renew".into(),
        )]))
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_deref(), Some("judy"));
    w.screenshot("connection-renewed").await;
    w.close().await;
}

/// `YYYY-MM-DD` of Unix seconds (UTC), as a date input takes it.
fn chrono_day(t: i64) -> String {
    let days = t.div_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn an_admin_adds_a_webhook_whose_secret_goes_only_to_a_file_and_sees_it_delivered() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let saves = tempfile::tempdir().unwrap();
    // SAFETY: one test thread; set before the app is spawned (see `launch`).
    unsafe { std::env::set_var("GATEHOUSE_TEST_SAVE_DIR", saves.path()) };
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let (_driver, w, info) = launch("judy").await;
    w.click_css("[data-testid=nav-reviews]").await;
    // The panels above it load on their own: click again if one moved it.
    w.click_until(
        "[data-testid=channel-add]",
        |_| true,
        "[data-testid=channel-name]",
        |_| true,
    )
    .await;
    for (id, text) in [("channel-name", "Approvers"), ("channel-url", url.as_str())] {
        let e = w
            .wait_for(&format!("[data-testid={id}]"), 10, |_| true)
            .await;
        w.type_into(&e, text).await;
    }
    w.click_css("[data-testid=channel-save]").await;
    w.wait_for("[data-testid=channels]", 20, |t| t.contains("Approvers"))
        .await;
    // The signing secret is in the chosen file (owner-only), not on the page.
    let file = saves.path().join("approvers.webhook-secret");
    saved_secret_off_the_page(&w, &file, "signing_secret=").await;
    // A request nobody asked for before reaches the webhook.
    let alice = gatehouse_tests::sign_in(&info, "alice", "code-agent", false).await;
    let _ = gatehouse_tests::exchange(&info, "code-agent", &alice.id_token, "ledger", None).await;
    eventually("the webhook got the new request", 30, || {
        hits.load(Ordering::SeqCst) >= 1
    })
    .await;
    w.click_css("[data-testid=channel-deliveries]").await;
    w.wait_for("[data-testid=deliveries]", 20, |t| {
        t.contains("request.pending") && t.contains("delivered")
    })
    .await;
    w.screenshot("reviews-channels").await;
    w.close().await;
    unsafe { std::env::remove_var("GATEHOUSE_TEST_SAVE_DIR") };
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a keyring: scripts/webdriver-tests.sh"]
async fn an_admin_registers_edits_and_retires_a_resource_app_with_a_second_factor() {
    let (_driver, w, info) = launch("judy").await;
    let admin_token = gatehouse_tests::admin_token(&info, "judy", false).await;
    let read_app = || {
        let (idp, token) = (info.idp.clone(), admin_token.clone());
        async move {
            let r = reqwest::Client::new()
                .get(format!("{idp}/admin/v1/resource-apps/wiki"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    w.click_css("[data-testid=nav-directory]").await;
    w.click_css("[data-testid=directory-tab-apps]").await;
    w.click_css("[data-testid=register-app]").await;
    for (id, text) in [
        ("app-id", "wiki"),
        ("app-name", "Company Wiki"),
        ("app-issuer", "http://127.0.0.1:9/wiki-as"),
        ("app-mcp", "http://127.0.0.1:9/wiki/mcp"),
        ("app-owners", "judy"),
    ] {
        let e = w
            .wait_for(&format!("[data-testid={id}]"), 10, |_| true)
            .await;
        w.type_into(&e, text).await;
    }
    // Two scopes: a read one, and an edit one marked write and sensitive.
    w.click_css("[data-testid=scope-add]").await;
    let rows = w.find_all("[data-testid=scope-row]").await;
    assert_eq!(rows.len(), 2);
    for (row, (name, description)) in rows
        .iter()
        .zip([("wiki.read", "Read pages"), ("wiki.edit", "Edit pages")])
    {
        let e = w.find_in(row, "[data-testid=scope-name]").await.unwrap();
        w.type_into(&e, name).await;
        let e = w
            .find_in(row, "[data-testid=scope-description]")
            .await
            .unwrap();
        w.type_into(&e, description).await;
    }
    w.click(&w.find_in(&rows[1], "option[value=write]").await.unwrap())
        .await;
    w.click(
        &w.find_in(&rows[1], "[data-testid=scope-sensitive]")
            .await
            .unwrap(),
    )
    .await;
    w.screenshot("directory-register-app").await;
    w.click_css("[data-testid=app-submit]").await;
    w.wait_for("[data-testid=apps]", 20, |t| t.contains("Company Wiki"))
        .await;
    let (status, app) = read_app().await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["issuer"], "http://127.0.0.1:9/wiki-as");
    let scopes: Vec<(String, String, bool)> = app["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["risk"].as_str().unwrap().to_owned(),
                s["sensitive"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        [
            ("wiki.read".to_owned(), "read".to_owned(), false),
            ("wiki.edit".to_owned(), "write".to_owned(), true)
        ]
    );
    // Editing: raising a scope's risk says, before saving, what it puts up
    // for re-approval.
    let row = w
        .wait_for("[data-testid=app-row][data-app-id=wiki]", 10, |_| true)
        .await;
    w.click(&w.find_in(&row, "[data-testid=edit-app]").await.unwrap())
        .await;
    let first = w.wait_for("[data-testid=scope-row]", 10, |_| true).await;
    w.click(
        &w.find_in(&first, "option[value=destructive]")
            .await
            .unwrap(),
    )
    .await;
    w.wait_for("[data-testid=app-form-reapproval]", 10, |t| {
        t.contains("wiki.read")
    })
    .await;
    w.screenshot("directory-edit-app").await;
    w.click_css("[data-testid=app-submit]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, app) = read_app().await;
        if app["scopes"][0]["risk"] == "destructive" {
            assert_eq!(app["version"], 2, "one change: {app}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the edit never reached the IdP: {app}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Retiring needs a second factor: the screen asks, then finishes. The list
    // reloads after the save above: click again if it re-rendered under the click.
    w.click_until(
        "[data-testid=app-row][data-app-id=wiki] [data-testid=retire-app]",
        |_| true,
        "[data-testid=retire-reason]",
        |_| true,
    )
    .await;
    let reason = w
        .wait_for("[data-testid=retire-reason]", 10, |_| true)
        .await;
    w.type_into(&reason, "moved to the new wiki").await;
    w.click_css("[data-testid=retire-submit]").await;
    w.wait_for("[data-testid=retire-step-up]", 20, |t| {
        t.contains("second factor")
    })
    .await;
    w.screenshot("directory-retire-step-up").await;
    w.click_css("[data-testid=retire-reauthenticate]").await;
    w.wait_for("[data-testid=notice]", 30, |t| t.contains("Retired wiki"))
        .await;
    let (status, app) = read_app().await;
    assert_eq!(status, 200);
    assert!(app["retired_at"].is_i64(), "retired: {app}");
    // A retired app leaves the list (which reloads after the notice).
    w.wait_for_count("[data-testid=app-row][data-app-id=wiki]", 0, 20)
        .await;
    w.close().await;
}
