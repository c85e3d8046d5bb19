//! The audit log streamed to a SIEM, over loopback, against local receivers
//! that count every event: RFC 5424 syslog over TCP (octet-counted frames)
//! receives every event in order, once; while the receiver is down nothing
//! is skipped, and when it is back it gets the rest. A JSON webhook stream
//! keeps its cursor across a restart of the IdP: the new process sends what
//! came after, and nothing before it again.

use gatehouse_tests::*;
use idp::config::{AuditStream, StreamStart};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::io::AsyncReadExt;

/// Seq → how many times it arrived.
type Seen = Arc<Mutex<BTreeMap<i64, u32>>>;

fn seq_of(message: &str) -> i64 {
    let at = message
        .find("seq=\"")
        .expect("structured data names the seq")
        + 5;
    message[at..].split('"').next().unwrap().parse().unwrap()
}

/// A syslog receiver on `port` (0: any) until `stop` is notified; frames are
/// `<len> <message>` (RFC 6587 octet counting).
async fn syslog_receiver(port: u16, seen: Seen, stop: Arc<tokio::sync::Notify>) -> u16 {
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.notified() => return,
                accepted = l.accept() => {
                    let (mut s, _) = accepted.unwrap();
                    let seen = seen.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 65536];
                        loop {
                            let n = tokio::select! {
                                _ = stop.notified() => return,
                                n = s.read(&mut chunk) => n.unwrap_or(0),
                            };
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                            // Take every whole frame.
                            while let Some(sp) = buf.iter().position(|b| *b == b' ') {
                                let len: usize = std::str::from_utf8(&buf[..sp]).unwrap().parse().unwrap();
                                if buf.len() < sp + 1 + len {
                                    break;
                                }
                                let msg = String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap();
                                assert!(msg.starts_with('<') && msg.contains(">1 "), "RFC 5424: {msg}");
                                *seen.lock().unwrap().entry(seq_of(&msg)).or_default() += 1;
                                buf.drain(..sp + 1 + len);
                            }
                        }
                    });
                }
            }
        }
    });
    port
}

async fn head(d: &demo::Demo) -> i64 {
    let mut c = d.idp.store.acquire().await.unwrap();
    idp_store::notifications::audit_head(&mut c).await.unwrap()
}

/// Waits until every seq in 1..=upto arrived.
async fn all_seen(seen: &Seen, upto: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        {
            let s = seen.lock().unwrap();
            if (1..=upto).all(|q| s.contains_key(&q)) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "missing: {:?}",
                (1..=upto)
                    .filter(|q| !s.contains_key(q))
                    .take(10)
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn some_events(i: &demo::DemoInfo) {
    let alice = sign_in(i, "alice", "code-agent", false).await;
    exchange(i, "code-agent", &alice.id_token, "docs", Some("docs.read"))
        .await
        .unwrap();
}

#[tokio::test]
async fn syslog_gets_every_event_once_in_order_and_the_rest_after_an_outage() {
    let seen: Seen = Arc::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let port = syslog_receiver(0, seen.clone(), stop.clone()).await;
    let d = demo::start(demo::DemoOptions {
        audit_streams: vec![AuditStream {
            name: "siem".into(),
            syslog: Some(format!("127.0.0.1:{port}")),
            webhook: None,
            from: StreamStart::Start,
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    some_events(&d.info).await;
    let upto = head(&d).await;
    all_seen(&seen, upto).await;
    assert!(
        seen.lock().unwrap().values().all(|n| *n == 1),
        "each event once while the receiver is up"
    );

    // The receiver goes away; events keep being written.
    stop.notify_waiters();
    tokio::time::sleep(Duration::from_millis(300)).await;
    some_events(&d.info).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = head(&d).await;
    assert!(during > upto);
    // Back on the same port: nothing was skipped.
    let stop = Arc::new(tokio::sync::Notify::new());
    syslog_receiver(port, seen.clone(), stop.clone()).await;
    some_events(&d.info).await;
    all_seen(&seen, head(&d).await).await;
    stop.notify_waiters();
}

#[tokio::test]
async fn a_webhook_stream_continues_after_a_killed_idp_restarts_from_its_cursor() {
    use axum::{Json, Router, extract::State, routing::post};
    use gatehouse_tests::idp_process::SmallIdp;
    let seen: Seen = Arc::default();
    async fn take(State(seen): State<Seen>, Json(b): Json<serde_json::Value>) -> &'static str {
        let mut s = seen.lock().unwrap();
        for e in b["events"].as_array().unwrap() {
            *s.entry(e["seq"].as_i64().unwrap()).or_default() += 1;
        }
        "ok"
    }
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/audit", l.local_addr().unwrap());
    let app = Router::new()
        .route("/audit", post(take))
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    // The real binary, with a stream in its config.
    let dir = tempfile::tempdir().unwrap();
    let idp = SmallIdp::write(dir.path());
    let mut text = std::fs::read_to_string(&idp.config).unwrap();
    text.push_str(&format!(
        "\n[[audit_stream]]\nname = \"siem-json\"\nwebhook = \"{url}\"\nfrom = \"start\"\n"
    ));
    std::fs::write(&idp.config, text).unwrap();
    let log = dir.path().join("idp.log");
    let mut child = idp.spawn(&[], &[], &log);
    idp.wait_ready().await;
    let db = idp_store::Db::open(&idp_store::sqlite_url(&idp.database))
        .await
        .unwrap();
    // Waits until the stream's cursor stands at the log's head, every event
    // up to it received.
    let caught_up = || async {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut c = db.acquire().await.unwrap();
            let head = idp_store::notifications::audit_head(&mut c).await.unwrap();
            let cursor = idp_store::notifications::stream_cursor(&mut c, "siem-json")
                .await
                .unwrap();
            if head > 0 && cursor == Some(head) {
                all_seen(&seen, head).await;
                return head;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the stream never caught up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let signed = idp.sign_in().await;
    idp.exchange(&signed.id_token).await.unwrap();
    let before = caught_up().await;

    // Killed, not stopped: what it acknowledged is in the cursor.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = idp.spawn(&[], &[], &log);
    idp.wait_ready().await;
    let signed = idp.sign_in().await;
    idp.exchange(&signed.id_token).await.unwrap();
    let after = caught_up().await;
    assert!(after > before);
    child.kill().unwrap();
    child.wait().unwrap();
    let s = seen.lock().unwrap();
    assert!(
        s.values().all(|n| *n == 1),
        "nothing sent again after the restart: {:?}",
        s.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}
