//! Each bound of `serve` against a real listener on loopback: a trickled head is
//! cut at the header timeout, an oversized head is answered 431, a quiet
//! connection is closed at the idle timeout, and past the connection cap a new
//! connection gets 503 with Retry-After while the open ones keep working.

use axum::{Router, extract::ConnectInfo, routing::get};
use std::{net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::{Instant, timeout},
};

async fn start(limits: serve::Limits) -> SocketAddr {
    let app = Router::new().route(
        "/",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(serve::serve(l, app, limits));
    addr
}

fn limits() -> serve::Limits {
    serve::Limits {
        header_read_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_millis(1500),
        max_header_bytes: 16 * 1024,
        max_connections: 8,
    }
}

/// Reads until the peer closes; returns what it sent.
async fn read_to_close(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut buf = Vec::new();
    match timeout(within, s.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_request_works_and_carries_the_peer_address() {
    let addr = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let r = read_to_close(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.ends_with("127.0.0.1"), "{r}");
}

#[tokio::test]
async fn trickled_headers_are_cut_at_the_header_timeout() {
    let addr = start(limits()).await;
    let mut slow = Vec::new();
    for _ in 0..5 {
        slow.push(tokio::spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            let (mut r, mut w) = s.into_split();
            w.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            let started = Instant::now();
            let reader = tokio::spawn(async move {
                let mut b = [0u8; 256];
                while let Ok(n) = r.read(&mut b).await {
                    if n == 0 {
                        break;
                    }
                }
            });
            // One byte every 100 ms: never a whole head within the timeout.
            loop {
                if reader.is_finished() || w.write_all(b"X").await.is_err() {
                    return started.elapsed();
                }
                assert!(started.elapsed() < Duration::from_secs(10), "still open");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    for t in slow {
        let open_for = t.await.unwrap();
        assert!(open_for < Duration::from_secs(4), "open for {open_for:?}");
    }
}

#[tokio::test]
async fn an_oversized_head_gets_431() {
    let addr = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let big = "a".repeat(20 * 1024);
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let _ = s.write_all(req.as_bytes()).await;
    let r = read_to_close(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 431"), "{}", &r[..r.len().min(80)]);
    // A head just under the limit is served.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let ok = "a".repeat(12 * 1024);
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {ok}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let r = read_to_close(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{}", &r[..r.len().min(80)]);
}

#[tokio::test]
async fn a_quiet_keep_alive_connection_is_closed() {
    let addr = start(limits()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut b = [0u8; 512];
    let n = s.read(&mut b).await.unwrap();
    assert!(String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 200"));
    // Nothing more is sent: the server closes it, well before a minute.
    let r = read_to_close(&mut s, Duration::from_secs(10)).await;
    assert!(r.is_some(), "the idle connection was closed");
}

#[tokio::test]
async fn past_the_cap_a_connection_gets_503_and_the_open_ones_still_work() {
    let addr = start(serve::Limits {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut b = [0u8; 512];
        let n = s.read(&mut b).await.unwrap();
        assert!(String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 200"));
        open.push(s);
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let r = read_to_close(&mut extra, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert!(r.contains("Retry-After: 1"), "{r}");
    // A held connection is still served.
    open[0]
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let r = read_to_close(&mut open[0], Duration::from_secs(5))
        .await
        .unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // Once one closes, a new connection is accepted again.
    drop(open.remove(0));
    let mut ok = None;
    for _ in 0..100 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let r = read_to_close(&mut s, Duration::from_secs(5)).await.unwrap();
        if r.starts_with("HTTP/1.1 200") {
            ok = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok.is_some(), "a slot was freed");
}
