//! Shared by the console's tests: the demo stack with a console on it (the
//! secret store is the in-memory FAKE), and a FAKE system browser.
#![allow(dead_code)]

use console::{Console, MemoryStore, ProfileStore, session::OpenUrl};
use std::{sync::Arc, time::Duration};

pub struct World {
    pub demo: demo::Demo,
    pub console: Console,
    pub secrets: Arc<MemoryStore>,
    pub profile: String,
    pub _dir: tempfile::TempDir,
}

pub async fn world(idle: Duration) -> World {
    let demo = demo::start(demo::DemoOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::default());
    let console = Console::new(
        ProfileStore::new(dir.path().join("profiles.json")),
        secrets.clone(),
        idle,
    )
    .with_sign_in_timeout(Duration::from_secs(20));
    let (p, d) = console
        .add_profile("Demo IdP", &demo.info.idp, &demo.info.console_client_id)
        .await
        .unwrap();
    assert!(d.supports_xaa && d.supports_pkce_s256);
    World {
        demo,
        console,
        secrets,
        profile: p.id,
        _dir: dir,
    }
}

/// A FAKE system browser: follows the authorization URL through the login form as
/// `username`, then delivers the redirect to the console's loopback port.
pub fn browser(info: &demo::DemoInfo, username: &str, mfa: bool) -> OpenUrl {
    let u = info.user(username);
    let user = agent::UserCreds {
        username: u.username.clone(),
        password: u.password.clone(),
        totp_secret: u.totp_secret.clone(),
    };
    Arc::new(move |url: String| {
        let user = user.clone();
        tokio::spawn(async move {
            let http = agent::http_client();
            let location = agent::submit_login(&http, &url, &user, mfa)
                .await
                .expect("login form");
            http.get(location).send().await.expect("loopback redirect");
        });
        Ok(())
    })
}
