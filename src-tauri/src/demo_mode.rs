//! Start-up: restore the saved profile's session, or — with no profile — start the
//! demo stack in-process and sign the demo approver in through the real browser
//! sign-in code (the "browser" here fills in the demo IdP's login form).

use crate::AppState;
use console::{ConsoleError, ErrorCode, session::OpenUrl};
use std::sync::Arc;
use tauri::{AppHandle, Emitter, Manager};

pub async fn start_or_restore(app: AppHandle) {
    let state = app.state::<AppState>();
    let console = state.console.clone();
    let result = match console.profiles.list() {
        Ok(list) if !list.is_empty() && std::env::var("GATEHOUSE_DEMO").is_err() => {
            let p = list[0].clone();
            match console.restore(&p.id).await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => {
                    let open = state.open_url();
                    console
                        .sign_in_browser(&p.id, false, open)
                        .await
                        .map(|_| ())
                }
                Err(e) => Err(e),
            }
        }
        _ => start_demo(&app).await,
    };
    if let Err(e) = result {
        tracing::warn!(code = ?e.code, "start-up sign-in failed");
        // The window may not listen yet: it also asks (start_up_problem).
        *state.start_up_problem.lock().expect("start-up") = Some(e.clone());
        let _ = app.emit("console-error", e);
    }
    let _ = app.emit("session-changed", ());
}

async fn start_demo(app: &AppHandle) -> Result<(), ConsoleError> {
    let state = app.state::<AppState>();
    let demo = demo::start(demo::DemoOptions::default())
        .await
        .map_err(|e| {
            ConsoleError::new(
                ErrorCode::Internal,
                format!("The demo stack did not start: {e}"),
            )
        })?;
    // 90 days of history on a person's first start (`scripts/demo.sh` asks for
    // it); the tests' demo stays the small world they count on.
    if let Some(seed) = std::env::var("GATEHOUSE_DEMO_HISTORY")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
    {
        demo::history::seed(&demo, seed).await.map_err(|e| {
            ConsoleError::new(
                ErrorCode::Internal,
                format!("The demo history could not be seeded: {e}"),
            )
        })?;
    }
    let info = demo.info.clone();
    *state.demo.lock().await = Some(demo);
    // A throw-away IdP needs no keychain: its session lives in memory only (the
    // window says so), so demo mode works where no Secret Service runs.
    state.console.keep_secrets_in_memory();
    // Demo profiles are not saved: the demo IdP lives only as long as the app.
    let (profile, _) = state
        .console
        .add_profile_unsaved("Demo IdP (in-process)", &info.idp, &info.console_client_id)
        .await?;
    // The demo approver by default; GATEHOUSE_DEMO_USER picks another seeded
    // person (the reviewer ivan, the help desk's dave, the admin judy...).
    let who = std::env::var("GATEHOUSE_DEMO_USER").unwrap_or_else(|_| "carol".into());
    let approver = info
        .users
        .iter()
        .find(|u| u.username == who)
        .cloned()
        .ok_or_else(|| {
            ConsoleError::new(
                ErrorCode::Invalid,
                format!("GATEHOUSE_DEMO_USER={who} is not a seeded demo user."),
            )
        })?;
    let user = agent::UserCreds {
        username: approver.username,
        password: approver.password,
        totp_secret: approver.totp_secret,
    };
    // The demo approver's "browser": fills in the demo IdP's login form (with the
    // second factor when the IdP asks for one, as in an approver step-up).
    let open: OpenUrl = Arc::new(move |url: String| {
        let user = user.clone();
        let mfa = url.contains("acr_values=");
        tauri::async_runtime::spawn(async move {
            let http = agent::http_client();
            match agent::submit_login(&http, &url, &user, mfa).await {
                Ok(location) => {
                    let _ = http.get(location).send().await;
                }
                Err(e) => tracing::warn!(error = %e, "demo sign-in form failed"),
            }
        });
        Ok(())
    });
    *state.open_url.lock().expect("opener") = open.clone();
    state
        .console
        .sign_in_browser(&profile.id, false, open)
        .await?;
    tracing::info!(idp = %info.idp, user = %who, "demo mode: signed in as the demo approver");
    // A living queue: simulated agents keep exchanging (GATEHOUSE_DEMO_FLEET_MS,
    // default 2500; 0 turns the fleet off).
    let every = std::env::var("GATEHOUSE_DEMO_FLEET_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(2500);
    if every > 0 {
        tauri::async_runtime::spawn(demo::fleet::run(
            info.clone(),
            std::time::Duration::from_millis(every),
            None,
        ));
    }
    // For end-to-end tests that drive agents against this in-process demo: the
    // demo's JSON line (the `gatehouse-demo` contract, demo credentials only) in
    // a file readable by this user alone. Off unless asked for.
    if let Ok(path) = std::env::var("GATEHOUSE_DEMO_INFO") {
        write_private(&path, &serde_json::to_vec(&info).expect("demo info"));
    }
    Ok(())
}

fn write_private(path: &str, bytes: &[u8]) {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path).and_then(|mut f| f.write_all(bytes)) {
        Ok(()) => tracing::info!(path, "demo info written"),
        Err(e) => tracing::warn!(path, error = %e, "demo info not written"),
    }
}
