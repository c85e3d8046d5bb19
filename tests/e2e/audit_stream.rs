//! The audit log streamed to a SIEM, over loopback, against local receivers
//! that count every event: RFC 5424 syslog over TCP (octet-counted frames)
//! receives every event in order, once; while the receiver is down nothing
//! is skipped, and when it is back it gets the rest. Over TLS (RFC 5425) a
//! receiver whose certificate the stream does not trust gets nothing (its
//! cursor stays), one it trusts gets every event once. A JSON webhook stream
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
                    let (s, _) = accepted.unwrap();
                    tokio::spawn(read_frames(s, seen.clone(), stop.clone()));
                }
            }
        }
    });
    port
}

/// Counts every whole frame (`<len> <message>`, RFC 6587 octet counting)
/// read from `s` until it ends or `stop` is notified.
async fn read_frames<S: tokio::io::AsyncRead + Unpin>(
    mut s: S,
    seen: Seen,
    stop: Arc<tokio::sync::Notify>,
) {
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
        while let Some(sp) = buf.iter().position(|b| *b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..sp]).unwrap().parse().unwrap();
            if buf.len() < sp + 1 + len {
                break;
            }
            let msg = String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap();
            assert!(
                msg.starts_with('<') && msg.contains(">1 "),
                "RFC 5424: {msg}"
            );
            *seen.lock().unwrap().entry(seq_of(&msg)).or_default() += 1;
            buf.drain(..sp + 1 + len);
        }
    }
}

/// A CA and a receiver certificate it signed for localhost and 127.0.0.1
/// (PEM files in `dir`, made with the system's openssl): (CA, certificate, key).
fn certificate(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let file = |ext: &str| dir.join(format!("{name}.{ext}"));
    let (ca, ca_key, cert, key, csr, ext) = (
        file("ca.crt"),
        file("ca.key"),
        file("crt"),
        file("key"),
        file("csr"),
        file("ext"),
    );
    std::fs::write(
        &ext,
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let ok = std::process::Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl {args:?}");
    };
    let s = |v: &str| std::ffi::OsString::from(v);
    let p = |v: &std::path::Path| v.as_os_str().to_owned();
    let ec = [
        s("-newkey"),
        s("ec"),
        s("-pkeyopt"),
        s("ec_paramgen_curve:P-256"),
        s("-nodes"),
    ];
    let mut args = vec![
        s("req"),
        s("-x509"),
        s("-days"),
        s("2"),
        s("-subj"),
        s(&format!("/CN={name} test CA")),
    ];
    args.extend(ec.iter().cloned());
    args.extend([s("-keyout"), p(&ca_key), s("-out"), p(&ca)]);
    openssl(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let mut args = vec![s("req"), s("-new"), s("-subj"), s("/CN=localhost")];
    args.extend(ec.iter().cloned());
    args.extend([s("-keyout"), p(&key), s("-out"), p(&csr)]);
    openssl(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    let args = [
        s("x509"),
        s("-req"),
        s("-days"),
        s("2"),
        s("-in"),
        p(&csr),
        s("-CA"),
        p(&ca),
        s("-CAkey"),
        p(&ca_key),
        s("-CAcreateserial"),
        s("-extfile"),
        p(&ext),
        s("-out"),
        p(&cert),
    ];
    openssl(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    (ca, cert, key)
}

/// A syslog-over-TLS receiver (RFC 5425) presenting `cert`.
async fn tls_syslog_receiver(
    cert: &std::path::Path,
    key: &std::path::Path,
    seen: Seen,
    stop: Arc<tokio::sync::Notify>,
) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            let (acceptor, seen, stop) = (acceptor.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                // A client that does not trust the certificate gives up here.
                if let Ok(tls) = acceptor.accept(s).await {
                    read_frames(tls, seen, stop).await;
                }
            });
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
            tls: false,
            ca_file: None,
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

#[tokio::test]
async fn syslog_over_tls_checks_the_receivers_certificate_and_gets_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificate(dir.path(), "receiver");
    let (other, _, _) = certificate(dir.path(), "other");
    let seen: Seen = Arc::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let port = tls_syslog_receiver(&cert, &key, seen.clone(), stop.clone()).await;
    let stream = |name: &str, ca: &std::path::Path| AuditStream {
        name: name.into(),
        syslog: Some(format!("localhost:{port}")),
        tls: true,
        ca_file: Some(ca.to_path_buf()),
        webhook: None,
        from: StreamStart::Start,
    };
    // One stream trusts the receiver's certificate; one trusts another: its
    // handshakes fail, nothing of it arrives, and its cursor stays put.
    let d = demo::start(demo::DemoOptions {
        audit_streams: vec![stream("siem", &ca), stream("untrusted", &other)],
        ..Default::default()
    })
    .await
    .unwrap();
    some_events(&d.info).await;
    let upto = head(&d).await;
    all_seen(&seen, upto).await;
    assert!(
        seen.lock().unwrap().values().all(|n| *n == 1),
        "each event once, none from the stream that does not trust the receiver"
    );
    let mut c = d.idp.store.acquire().await.unwrap();
    assert_eq!(
        idp_store::notifications::stream_cursor(&mut c, "untrusted")
            .await
            .unwrap(),
        Some(0)
    );
}
