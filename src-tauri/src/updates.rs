//! The console's own updates through the official updater plugin: the feed is
//! the one the active profile's settings name, the signature is checked against
//! the public key built into the app (`plugins.updater.pubkey` in
//! tauri.conf.json), and a release is downloaded and verified when the check
//! finds it — so a tampered or unsigned one is refused before it is ever
//! offered — but installed only when the person says so.
//!
//! A debug build (the tests') may take its key from `GATEHOUSE_UPDATER_PUBKEY`
//! instead, so a test can sign a release with a key of its own; a release build
//! has no such switch.

use console::{ConsoleError, ErrorCode, updates::UpdateStatus};
use std::time::Duration;
use tauri::AppHandle;
use tauri_plugin_updater::{Error, Update, UpdaterExt};

/// A release the last check downloaded and verified, with its bytes.
#[derive(Default)]
pub struct PendingUpdate(tokio::sync::Mutex<Option<(Update, Vec<u8>)>>);

/// A check takes at most this long per request (feed, then the download).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Largest release the console keeps. The plugin buffers a download whole
/// before handing it over, so this refuses what came in past it; the download
/// itself is bounded by [`TIMEOUT`].
const MAX_BYTES: usize = 512 * 1024 * 1024;

pub async fn check(app: &AppHandle, pending: &PendingUpdate, feed: url::Url) -> UpdateStatus {
    // What an earlier check verified is dropped: only this check's answer can be installed.
    *pending.0.lock().await = None;
    let current = app.package_info().version.to_string();
    let mut builder = app.updater_builder().timeout(TIMEOUT);
    if cfg!(debug_assertions)
        && let Ok(key) = std::env::var("GATEHOUSE_UPDATER_PUBKEY")
    {
        builder = builder.pubkey(key);
    }
    let updater = match builder.endpoints(vec![feed]).and_then(|b| b.build()) {
        Ok(u) => u,
        Err(e) => return refused(None, &e),
    };
    let update = match updater.check().await {
        Ok(Some(u)) => u,
        Ok(None) => return UpdateStatus::UpToDate { current },
        Err(e) if unreachable(&e) => {
            tracing::info!(error = %e, "update feed not reachable");
            return UpdateStatus::Unreachable;
        }
        Err(e) => return refused(None, &e),
    };
    let version = update.version.clone();
    let mut received = 0usize;
    let mut too_big = false;
    let bytes = update
        .download(
            |n, _| {
                received += n;
                too_big |= received > MAX_BYTES;
            },
            || {},
        )
        .await;
    let bytes = match bytes {
        _ if too_big => {
            return UpdateStatus::Refused {
                version: Some(version),
                message: "The update is larger than 512 MiB; it was not kept.".into(),
            };
        }
        Ok(b) => b,
        Err(e) if unreachable(&e) => return UpdateStatus::Unreachable,
        Err(e) => return refused(Some(version), &e),
    };
    tracing::info!(%version, bytes = bytes.len(), "update downloaded and its signature verified");
    let offered = UpdateStatus::Offered {
        current,
        version: version.clone(),
        notes: update.body.clone(),
        date: update.date.and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }),
    };
    *pending.0.lock().await = Some((update, bytes));
    offered
}

/// Installs what the last check verified; it runs from the next start.
pub async fn install(pending: &PendingUpdate) -> Result<UpdateStatus, ConsoleError> {
    let Some((update, bytes)) = pending.0.lock().await.take() else {
        return Err(ConsoleError::new(
            ErrorCode::NotFound,
            "No verified update to install: check for updates first.",
        ));
    };
    let version = update.version.clone();
    tauri::async_runtime::spawn_blocking(move || update.install(bytes))
        .await
        .map_err(|e| ConsoleError::new(ErrorCode::Internal, format!("The install failed: {e}")))?
        .map_err(|e| {
            ConsoleError::new(
                ErrorCode::Internal,
                format!("Gatehouse {version} could not be installed: {e}"),
            )
        })?;
    tracing::info!(%version, "update installed; it runs from the next start");
    Ok(UpdateStatus::Installed { version })
}

/// The feed or the download could not be reached (no network, refused, timed
/// out, a server error): quiet, the next check tries again.
fn unreachable(e: &Error) -> bool {
    match e {
        Error::Reqwest(r) => r.is_connect() || r.is_timeout() || r.is_request(),
        Error::Network(_) | Error::ReleaseNotFound => true,
        _ => false,
    }
}

/// A release that is not installed, and why, in a sentence.
fn refused(version: Option<String>, e: &Error) -> UpdateStatus {
    let message = match e {
        Error::Minisign(_) | Error::Base64(_) | Error::SignatureUtf8(_) => {
            "The update's signature does not verify against the key built into Gatehouse: it was not installed."
                .to_owned()
        }
        Error::SignedVersionMismatch { signed, announced } => format!(
            "The feed announces {announced} but the release is signed as {signed}: the feed may have been tampered with, nothing was installed."
        ),
        Error::MissingSignedVersion => {
            "The update's signature names no version, which Gatehouse requires: it was not installed."
                .to_owned()
        }
        Error::Serialization(s) if s.to_string().contains("signature") => {
            "The update feed offers a release without a signature: it was not installed.".to_owned()
        }
        Error::Serialization(_) | Error::Semver(_) | Error::UrlParse(_) => {
            "The update feed is not a valid update feed.".to_owned()
        }
        Error::TargetNotFound(_) | Error::TargetsNotFound(_) => {
            "The update feed has no release for this platform.".to_owned()
        }
        Error::InsecureTransportProtocol => "The update feed must be https.".to_owned(),
        other => format!("The update could not be checked: {other}"),
    };
    tracing::warn!(version = version.as_deref().unwrap_or("-"), %message, "update refused");
    UpdateStatus::Refused { version, message }
}
