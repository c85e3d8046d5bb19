//! The real console window where no keychain answers: a D-Bus session with no
//! Secret Service and nothing that could start one (scripts/webdriver-tests.sh
//! runs this file under such a bus). Demo mode works anyway, its session held
//! in memory and marked so on screen; outside demo mode the start-up sign-in
//! shows what is missing and how to fix it, and offers a sign-in kept in
//! memory — never a "Signing in…" that does not end.

use gatehouse_webdriver_tests::{TauriDriver, Window, demo_info};

fn app_binary() -> String {
    std::env::var("GATEHOUSE_APP").expect("GATEHOUSE_APP: the console binary to drive")
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a bus without a Secret Service: scripts/webdriver-tests.sh"]
async fn demo_mode_needs_no_keychain_and_says_its_session_is_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let info_file = dir.path().join("demo.json");
    // SAFETY: one test thread; set before the driver (and the app) is spawned.
    unsafe {
        std::env::set_var("GATEHOUSE_DEMO", "1");
        std::env::set_var("GATEHOUSE_DEMO_USER", "carol");
        std::env::set_var("GATEHOUSE_DEMO_INFO", &info_file);
        std::env::set_var("XDG_CONFIG_HOME", dir.path().join("config"));
    }
    let driver = TauriDriver::start().await;
    let w = Window::open(&driver, &app_binary()).await;
    let info = demo_info(&info_file).await;
    w.wait_for("[data-testid=who]", 60, |t| t.contains("carol"))
        .await;
    let notice = w
        .wait_for("[data-testid=memory-session]", 10, |t| {
            t.contains("in memory")
        })
        .await;
    let title = w.attribute(&notice, "title").await.unwrap_or_default();
    assert!(title.contains("ends when Gatehouse closes"), "{title}");
    // A working session: the seeded queue is served.
    let client = info.client("code-agent").name.clone();
    w.wait_for("[data-testid=request-row]", 30, |t| t.contains(&client))
        .await;
    w.screenshot("no-keychain-demo").await;
    w.close().await;
    drop(driver);
}

#[tokio::test]
#[ignore = "needs a display, tauri-driver and a bus without a Secret Service: scripts/webdriver-tests.sh"]
async fn without_a_keychain_the_window_says_what_to_do_instead_of_a_spinner() {
    // A real IdP with a saved profile for it, as a person who set one up has.
    let idp = demo::start(demo::DemoOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let app_dir = config.join("dev.gatehouse.console");
    std::fs::create_dir_all(&app_dir).unwrap();
    let profiles = serde_json::json!([{
        "id": "acme",
        "name": "Acme IdP",
        "issuer": idp.info.idp,
        "client_id": idp.info.console_client_id,
    }]);
    std::fs::write(app_dir.join("profiles.json"), profiles.to_string()).unwrap();
    // SAFETY: one test thread; set before the driver (and the app) is spawned.
    unsafe {
        std::env::remove_var("GATEHOUSE_DEMO");
        std::env::set_var("XDG_CONFIG_HOME", &config);
    }
    let driver = TauriDriver::start().await;
    let w = Window::open(&driver, &app_binary()).await;
    let panel = w
        .wait_for("[data-testid=keychain-unavailable]", 60, |t| {
            t.contains("keychain is not available")
        })
        .await;
    let text = w.text(&panel).await;
    for sentence in [
        "Unlock it",
        "install gnome-keyring",
        "sign in without saving",
    ] {
        assert!(text.contains(sentence), "no `{sentence}` in: {text}");
    }
    let button = w
        .wait_for("[data-testid=sign-in-unsaved]", 5, |t| {
            t.contains("Sign in without saving")
        })
        .await;
    assert!(w.attribute(&button, "disabled").await.is_none());
    let header = w.wait_for("header .muted", 5, |t| !t.is_empty()).await;
    assert_eq!(w.text(&header).await, "Not signed in");
    w.screenshot("no-keychain-signed-out").await;
    w.close().await;
    drop(driver);
}
