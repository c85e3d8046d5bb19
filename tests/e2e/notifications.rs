//! Approvers reached where they are, over loopback: an admin adds a signed
//! webhook and a Slack-compatible channel (the webhook's secret shown once,
//! the Slack URL never shown back); a new connection request reaches both
//! with a `gatehouse://` link and nothing secret; the webhook's signature
//! verifies with the secret; a receiver's failure is retried from the outbox
//! and the receipt says so; each notification arrives once; other roles see
//! no channel.

use admin_api::{client::Mutation, *};
use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use gatehouse_tests::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// What the local receiver got: (path, signature header, body).
type Got = Arc<Mutex<Vec<(String, Option<String>, String)>>>;

/// A local receiver: `/hook` fails its first delivery (500), then accepts;
/// `/slack/...` accepts.
async fn receiver() -> (String, Got) {
    let got: Got = Arc::default();
    async fn hook(State(got): State<Got>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let mut g = got.lock().unwrap();
        let first = !g.iter().any(|(p, _, _)| p == "/hook");
        g.push((
            "/hook".into(),
            headers
                .get("gatehouse-signature")
                .map(|v| v.to_str().unwrap().to_owned()),
            String::from_utf8(body.to_vec()).unwrap(),
        ));
        if first {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    }
    async fn slack(State(got): State<Got>, body: Bytes) -> StatusCode {
        got.lock().unwrap().push((
            "/slack".into(),
            None,
            String::from_utf8(body.to_vec()).unwrap(),
        ));
        StatusCode::OK
    }
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/slack/T0/B0/not-to-be-shown", post(slack))
        .with_state(got.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (base, got)
}

fn hmac_hex(secret: &str, msg: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    xaa::util::hex(aws_lc_rs::hmac::sign(&key, msg.as_bytes()).as_ref())
}

async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_new_request_reaches_a_signed_webhook_and_slack_with_a_link_and_no_secret() {
    let d = start_demo().await;
    let i = &d.info;
    let (base, got) = receiver().await;
    let judy = admin_session(i, "judy", false).await;
    let create = |body: Value| {
        let judy = &judy;
        async move {
            judy.create_notification_channel(
                &serde_json::from_value::<CreateChannel>(body).unwrap(),
                &Mutation::default(),
            )
            .await
        }
    };
    let hook =
        create(json!({"name": "approvers", "kind": "webhook", "url": format!("{base}/hook")}))
            .await
            .unwrap();
    let secret = hook.signing_secret.clone().expect("shown once");
    let slack_url = format!("{base}/slack/T0/B0/not-to-be-shown");
    let slack = create(json!({
        "name": "#iam", "kind": "slack", "url": slack_url, "events": ["request.pending"],
    }))
    .await
    .unwrap();
    assert!(slack.signing_secret.is_none());
    let e = create(json!({"name": "x", "kind": "webhook", "url": "http://example.com/h"}))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422), "plain http off loopback: {e}");

    // Listed without the secret; the Slack URL masked; only for admins.
    let listed = judy.notification_channels().await.unwrap();
    let text = serde_json::to_string(&listed).unwrap();
    assert!(
        !text.contains(&secret) && !text.contains("not-to-be-shown"),
        "{text}"
    );
    assert_eq!(listed.len(), 2);
    let oscar = admin_session(i, "oscar", false).await;
    let e = oscar.notification_channels().await.unwrap_err();
    assert_eq!(e.status(), Some(403));

    // A refused exchange for a pair nobody asked for: a new pending request.
    let alice = sign_in(i, "alice", "code-agent", false).await;
    let refused = exchange(i, "code-agent", &alice.id_token, "ledger", None).await;
    let request = expect_oauth(refused, xaa::ErrorCode::AccessDenied)
        .connection_request_id
        .unwrap();
    let link = format!("gatehouse://requests/{request}");

    // The webhook: first delivery refused (500), retried, then accepted.
    let hooks = eventually("the webhook's retry arrives", || {
        let g = got.lock().unwrap();
        let h: Vec<_> = g.iter().filter(|(p, _, _)| p == "/hook").cloned().collect();
        (h.len() >= 2).then_some(h)
    })
    .await;
    for (_, sig, body) in &hooks {
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["type"], "request.pending");
        assert_eq!(v["link"], link.as_str());
        assert_eq!(v["client_id"], "code-agent");
        let sig = sig.as_deref().expect("signed");
        let (t, v1) = sig
            .strip_prefix("t=")
            .and_then(|s| s.split_once(",v1="))
            .unwrap();
        assert_eq!(
            v1,
            hmac_hex(&secret, &format!("{t}.{body}")),
            "the signature verifies"
        );
        assert_ne!(v1, hmac_hex("another secret", &format!("{t}.{body}")));
        for leak in [
            &alice.id_token,
            &secret,
            &i.client("code-agent").client_secret,
        ] {
            assert!(
                !body.contains(leak.as_str()),
                "no token or secret in a notification"
            );
        }
    }
    assert_eq!(hooks[0].2, hooks[1].2, "the retry is the same notification");

    // Slack: its message, with the link.
    let slack_body = eventually("the Slack message", || {
        let g = got.lock().unwrap();
        g.iter()
            .find(|(p, _, _)| p == "/slack")
            .map(|(_, _, b)| b.clone())
    })
    .await;
    let v: Value = serde_json::from_str(&slack_body).unwrap();
    assert!(v["text"].as_str().unwrap().contains(&link), "{v}");

    // The receipt: delivered at the second attempt, after a 500.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let ours = loop {
        let deliveries = judy
            .notification_deliveries(&hook.channel.id)
            .await
            .unwrap();
        let ours: Vec<DeliveryView> = deliveries
            .into_iter()
            .filter(|r| r.event == NotificationKind::RequestPending)
            .collect();
        if ours.iter().any(|r| r.status == DeliveryStatus::Delivered) {
            break ours;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never delivered: {ours:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(ours.len(), 1, "one delivery per notification: {ours:?}");
    assert_eq!(
        (ours[0].status, ours[0].attempts, ours[0].last_status),
        (DeliveryStatus::Delivered, 2, Some(200))
    );

    // Nothing arrives twice: a while later, still exactly two webhook posts
    // and one Slack message for this request.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    {
        let g = got.lock().unwrap();
        assert_eq!(g.iter().filter(|(p, _, _)| p == "/hook").count(), 2);
        assert_eq!(g.iter().filter(|(p, _, _)| p == "/slack").count(), 1);
    }

    // Deleting a channel: gone from the list, audited.
    judy.delete_notification_channel(&slack.channel.id)
        .await
        .unwrap();
    let e = judy
        .delete_notification_channel(&slack.channel.id)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "deleted once");
    let listed = judy.notification_channels().await.unwrap();
    assert_eq!(listed.len(), 1);
    let audit = judy
        .audit(&query(&[("limit", "500".into())]))
        .await
        .unwrap()
        .items;
    let text = serde_json::to_string(&audit).unwrap();
    assert!(
        text.contains("notification_channel.created")
            && text.contains("notification_channel.deleted")
    );
    assert!(
        !text.contains(&secret) && !text.contains("not-to-be-shown"),
        "no secret in the audit log"
    );
}
