//! `/admin/v1/events`: a server-sent event stream of changes. Every change is a
//! row in `change_events`, so a client reconnecting with `Last-Event-ID` first
//! gets what it missed from the table, then live events, without gaps or repeats.

use crate::state::SharedIdp;
use admin_api::ChangeEvent;
use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use futures_util::stream::{self, Stream, StreamExt};
use std::{convert::Infallible, time::Duration};
use tokio::sync::broadcast::error::RecvError;

fn sse(e: &ChangeEvent) -> Event {
    Event::default()
        .id(e.id.to_string())
        .event(e.kind.as_str())
        .json_data(e)
        .unwrap_or_else(|_| Event::default().event("resync").data("{}"))
}

pub async fn stream(
    State(idp): State<SharedIdp>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let last: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(i64::MAX);
    // Subscribe before reading the backlog so nothing falls between the two.
    let rx = idp.changes.subscribe();
    let backlog: Vec<ChangeEvent> = if last == i64::MAX {
        vec![]
    } else {
        match idp.store.changes_after(last, 10_000).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "change stream backlog could not be read");
                vec![]
            }
        }
    };
    // Without Last-Event-ID the stream is live from now: the feed may still be
    // about to broadcast a change committed before this subscription.
    let seen = match backlog.last() {
        Some(e) => e.id,
        None if last == i64::MAX => idp.store.last_change_id().await.unwrap_or(0),
        None => last,
    };
    let live = stream::unfold((rx, seen), |(mut rx, seen)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if e.id > seen => {
                    let id = e.id;
                    return Some((Ok(sse(&e)), (rx, id)));
                }
                Ok(_) => continue,
                // Too slow a reader: tell it to reconnect with Last-Event-ID to catch up.
                Err(RecvError::Lagged(_)) => {
                    return Some((Ok(Event::default().event("resync").data("{}")), (rx, seen)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let head = stream::iter(backlog.into_iter().map(|e| Ok(sse(&e))));
    Sse::new(head.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
