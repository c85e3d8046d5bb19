//! Following the IdP live: the admin API's change stream, resumed with
//! `Last-Event-ID` after every drop, and the IdP's reachability as the console
//! shows it (a banner, actions disabled). The shell turns these into window
//! events, desktop notifications and the tray count.

use crate::{Console, ErrorCode};
use admin_api::{ChangeEvent, sse::Frame};
use std::{sync::Arc, time::Duration};

/// What the follower reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// The stream is open: the IdP is reachable.
    Connected,
    /// The IdP cannot be reached (or refused the stream); retrying.
    Disconnected(String),
    Change(ChangeEvent),
}

/// Follows changes until `sink` returns false. Waits while nobody is signed in
/// or the console is locked; backs off (0.5 s … 5 s) while the IdP is down.
pub async fn follow(console: Arc<Console>, mut sink: impl FnMut(LiveEvent) -> bool + Send) {
    let mut last: Option<i64> = None;
    let mut backoff = Duration::from_millis(500);
    let mut connected: Option<bool> = None;
    loop {
        let admin = match console.admin_background().await {
            Ok(a) => a,
            Err(e) if matches!(e.code, ErrorCode::NotSignedIn | ErrorCode::Locked) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                if connected != Some(false) && !sink(LiveEvent::Disconnected(e.message)) {
                    return;
                }
                connected = Some(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        match admin.events(last).await {
            Ok(mut stream) => {
                backoff = Duration::from_millis(500);
                if connected != Some(true) && !sink(LiveEvent::Connected) {
                    return;
                }
                connected = Some(true);
                // A fresh stream starts at "now"; remember where we are from here.
                loop {
                    match stream.next().await {
                        Ok(Some(Frame::Change(c))) => {
                            last = Some(c.id);
                            if !sink(LiveEvent::Change(c)) {
                                return;
                            }
                        }
                        Ok(Some(Frame::Resync)) | Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(error = %e, "event stream dropped");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                let e = crate::ConsoleError::from(e);
                if connected != Some(false) && !sink(LiveEvent::Disconnected(e.message)) {
                    return;
                }
                connected = Some(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
