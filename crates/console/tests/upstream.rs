//! The console signing in to a Gatehouse that federates to the company's IdP:
//! the (FAKE, scripted) system browser meets Gatehouse's login page, goes on to
//! the company IdP (panva's `oidc-provider`, a real third-party OpenID Provider
//! run as its own process) and comes back to the console's loopback redirect.
//! The profile, PKCE and the session are the console's ordinary ones.

use console::{Console, MemoryStore, ProfileStore, session::OpenUrl};
use gatehouse_tests::upstream_oidc::{Browser, world};
use std::{sync::Arc, time::Duration};

#[tokio::test]
async fn the_console_signs_in_through_the_company_idp() {
    let (demo, _corp) = world().await;
    let dir = tempfile::tempdir().unwrap();
    let console = Console::new(
        ProfileStore::new(dir.path().join("profiles.json")),
        Arc::new(MemoryStore::default()),
        Duration::from_secs(600),
    )
    .with_sign_in_timeout(Duration::from_secs(30));
    let (profile, discovered) = console
        .add_profile(
            "Corp-federated IdP",
            &demo.info.idp,
            &demo.info.console_client_id,
        )
        .await
        .unwrap();
    assert!(discovered.supports_xaa);
    let idp = demo.info.idp.clone();
    let browser: OpenUrl = Arc::new(move |url: String| {
        let idp = idp.clone();
        tokio::spawn(async move {
            let b = Browser::new();
            let login = b.to_corp_login(&idp, &url).await;
            let callback = format!("{idp}/authorize/upstream/callback");
            let back = b.corp_answer(&login, "carol", None, &callback).await;
            let to_console = b
                .get(&back)
                .await
                .location
                .expect("Gatehouse sends the browser back to the console");
            reqwest::get(to_console)
                .await
                .expect("the loopback redirect");
        });
        Ok(())
    });
    let view = console
        .sign_in_browser(&profile.id, false, browser)
        .await
        .expect("signed in through the company IdP");
    assert_eq!(view.subject, "carol");
    assert_eq!(view.roles, vec![admin_api::Role::Approver]);
    assert!(!view.mfa, "one factor at the company IdP");
    // The session works like any other.
    let queue = console
        .admin()
        .await
        .unwrap()
        .list_requests(&Default::default())
        .await
        .unwrap();
    assert!(queue.total >= 1);
}
