//! The IdP's background work, started from one place: the change feed (what
//! the admin event stream carries, in commit order, from every node), the
//! listener that hears other nodes' commits (PostgreSQL), the revocation
//! pusher, the notifier, the audit streams to SIEMs, the review deadlines, the lifecycle policies, the
//! counts of repeated refusals, and the purge of what can no longer be replayed.

use crate::state::SharedIdp;
use std::time::Duration;

/// Starts every job of this node.
pub fn start(idp: SharedIdp) -> Result<(), reqwest::Error> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    tokio::spawn(crate::revocation::pusher(idp.clone(), http.clone()));
    for stream in &idp.config.audit_streams {
        tokio::spawn(crate::audit_stream::run(
            idp.clone(),
            stream.clone(),
            http.clone(),
        ));
    }
    tokio::spawn(crate::notify::notifier(idp.clone(), http));
    tokio::spawn(change_feed(idp.clone()));
    tokio::spawn(listen_to_other_nodes(idp.clone()));
    tokio::spawn(review_deadlines(idp.clone()));
    tokio::spawn(lifecycle_policies(idp.clone()));
    tokio::spawn(crate::refusals::flusher(idp.clone()));
    tokio::spawn(purge(idp));
    Ok(())
}

/// Broadcasts committed changes to this node's event-stream subscribers in id
/// order (= commit order, on every node): woken after a local commit or another
/// node's announcement, and once a second in case an announcement was lost.
async fn change_feed(idp: SharedIdp) {
    let mut last = loop {
        match idp.store.last_change_id().await {
            Ok(id) => break id,
            Err(e) => {
                tracing::warn!(error = %e, "change feed cannot start yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        tokio::select! {
            _ = idp.feed_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        loop {
            match idp.store.changes_after(last, 1000).await {
                Ok(batch) if batch.is_empty() => break,
                Ok(batch) => {
                    for e in batch {
                        last = e.id;
                        if e.kind == admin_api::ChangeKind::RegistryUpdated
                            && let Err(err) = idp.registry.reload(&idp.store).await
                        {
                            tracing::warn!(error = %err, "the client and app registry could not be reloaded");
                        }
                        // Another node's decision ends this node's counting too.
                        if e.kind == admin_api::ChangeKind::RequestDecided {
                            idp.refusals.forget_request(&e.target);
                        }
                        let _ = idp.changes.send(e);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change feed read failed; will retry");
                    break;
                }
            }
        }
    }
}

/// On PostgreSQL: another node committed changes, so the feed reads them and the
/// pusher looks for revocation events to deliver. (No gate view waits for this:
/// one remembered is checked against the gate epoch, see `connection_cache`.)
async fn listen_to_other_nodes(idp: SharedIdp) {
    loop {
        let mut listener = match idp.store.change_listener().await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other nodes' changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            match listener.next().await {
                Ok(()) => {
                    idp.feed_wake.notify_one();
                    idp.outbox_wake.notify_one();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change listener lost its connection; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Access reviews past their due date get their default action (every node
/// checks; the campaign's completion is one conditional write, so it happens once).
async fn review_deadlines(idp: SharedIdp) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        crate::services::reviews::run_due(&idp).await;
    }
}

/// The lifecycle policies, once a minute on the IdP's clock (each action is a
/// conditional write, so nodes running it together act once).
async fn lifecycle_policies(idp: SharedIdp) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        crate::services::lifecycle::run_due(&idp).await;
    }
}

/// Spent client-assertion `jti`s past their expiry go.
async fn purge(idp: SharedIdp) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = idp.store.purge_expired(idp.now()).await {
            tracing::warn!(error = %e, "purge of expired rows failed; will retry");
        }
    }
}
