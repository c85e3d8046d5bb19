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
    let info = demo.info.clone();
    *state.demo.lock().await = Some(demo);
    // Demo profiles are not saved: the demo IdP lives only as long as the app.
    let (profile, _) = state
        .console
        .add_profile_unsaved("Demo IdP (in-process)", &info.idp, &info.console_client_id)
        .await?;
    let approver = info.user("carol").clone();
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
    tracing::info!(idp = %info.idp, "demo mode: signed in as the demo approver");
    Ok(())
}
