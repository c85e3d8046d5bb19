//! Notification channels, as the admin API manages them: created (a webhook's
//! signing secret shown once), listed (never the secret; a Slack URL, itself a
//! secret, only masked), deleted (pending deliveries dropped, receipts kept),
//! and their deliveries' receipts. Each change is audited without the secret.

use super::{Committed, Principal, ServiceError, ServiceResult, actor_event};
use crate::state::Idp;
use admin_api::{
    ChannelCreated, ChannelKind, ChannelView, CreateChannel, DeliveryStatus, DeliveryView,
    NotificationKind,
};
use idp_store::notifications::{self, Channel};
use serde_json::json;

/// What the admin API shows of a URL: scheme, host and path, no query; a
/// Slack URL's path is its secret, so only the host.
fn shown_url(kind: ChannelKind, u: &str) -> String {
    match url::Url::parse(u) {
        Ok(p) => {
            let host = p.host_str().unwrap_or_default();
            let port = p.port().map(|n| format!(":{n}")).unwrap_or_default();
            match kind {
                ChannelKind::Slack => format!("{}://{host}{port}/…", p.scheme()),
                ChannelKind::Webhook => format!("{}://{host}{port}{}", p.scheme(), p.path()),
            }
        }
        Err(_) => "…".into(),
    }
}

pub fn view(c: &Channel) -> ChannelView {
    let kind = ChannelKind::parse(&c.kind).unwrap_or(ChannelKind::Webhook);
    ChannelView {
        id: c.id.clone(),
        name: c.name.clone(),
        kind,
        url: shown_url(kind, &c.url),
        events: c
            .events
            .iter()
            .filter_map(|e| NotificationKind::parse(e))
            .collect(),
        created_by: c.created_by.clone(),
        created_at: c.created_at,
    }
}

pub async fn list(idp: &Idp) -> ServiceResult<Vec<ChannelView>> {
    let mut c = idp.store.acquire().await?;
    Ok(notifications::channels(&mut c)
        .await?
        .iter()
        .map(view)
        .collect())
}

pub async fn create(
    idp: &Idp,
    who: &Principal,
    req: &CreateChannel,
) -> ServiceResult<Committed<ChannelCreated>> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::invalid("a name of 1 to 100 characters"));
    }
    if !super::registry::web_url(&req.url) {
        return Err(ServiceError::invalid(
            "the URL must be https (or http on loopback), without a fragment",
        ));
    }
    let secret = (req.kind == ChannelKind::Webhook).then(|| xaa::util::random_token(32));
    let mut events: Vec<String> = req.events.iter().map(|e| e.as_str().to_owned()).collect();
    events.sort();
    events.dedup();
    let c = Channel {
        id: format!("nch_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
        name: name.to_owned(),
        kind: req.kind.as_str().into(),
        url: req.url.clone(),
        secret: secret.clone(),
        events,
        created_by: who.subject.clone(),
        created_at: idp.now(),
    };
    let mut tx = idp.store.begin_write().await?;
    notifications::insert_channel(&mut tx, &c).await?;
    let shown = view(&c);
    let mut e = actor_event(who, "notification_channel.created", &c.id);
    e.detail["after"] =
        json!({ "name": shown.name, "kind": shown.kind, "url": shown.url, "events": shown.events });
    crate::audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    tx.commit().await?;
    Ok(Committed {
        value: ChannelCreated {
            channel: shown,
            signing_secret: secret,
        },
        changes: vec![],
        connections_changed: false,
    })
}

pub async fn delete(idp: &Idp, who: &Principal, id: &str) -> ServiceResult<Committed<()>> {
    let mut tx = idp.store.begin_write().await?;
    if !notifications::delete_channel(&mut tx, id, idp.now()).await? {
        return Err(ServiceError::NotFound("the notification channel"));
    }
    let e = actor_event(who, "notification_channel.deleted", id);
    crate::audit::append(&mut tx, &[(&e, idp.now_ms())]).await?;
    tx.commit().await?;
    Ok(Committed {
        value: (),
        changes: vec![],
        connections_changed: false,
    })
}

/// The newest 200 deliveries of channel `id`, with their receipts.
pub async fn deliveries(idp: &Idp, id: &str) -> ServiceResult<Vec<DeliveryView>> {
    let mut c = idp.store.acquire().await?;
    Ok(notifications::receipts(&mut c, id, 200)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(DeliveryView {
                event: NotificationKind::parse(&r.event)?,
                status: DeliveryStatus::parse(&r.status)?,
                id: r.id,
                audit_seq: r.audit_seq,
                attempts: r.attempts,
                created_at_ms: r.created_at_ms,
                next_attempt_ms: r.next_attempt_ms,
                delivered_at_ms: r.delivered_at_ms,
                last_status: r.last_status,
                last_error: r.last_error,
            })
        })
        .collect())
}
