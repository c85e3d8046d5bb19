//! An open-loop load generator in the manner of wrk2: a fixed arrival rate
//! handed out over keep-alive connections, each request timed from when it was
//! *due*, not when it was sent, so a stalled server shows in the tail instead
//! of slowing the load down (no coordinated omission, unlike a closed loop such
//! as wrk). Plain HTTP/1.1 over TCP, so the generator's own cost stays small.
//! Used by `scripts/exchange-bench.sh` for the p99 at half of the peak wrk measured.
//!
//! `open_loop URL RATE SECS [CONNS]`, with `FORM_BODY` and `AUTH_HEADER` in
//! the environment as for the harness's wrk script (and `EXPECT_STATUS`, 200
//! unless set: any other answer counts as failed). Prints one `OPEN …` line;
//! with `OPEN_TRACE=FILE`, also writes each request's due time and latency
//! there (to see when the slow ones were due).

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What each request is and which answer counts as success.
struct Plan {
    addr: String,
    request: Vec<u8>,
    expect: u16,
}

/// One keep-alive connection: sends a request for each due time it is handed
/// (queued while it waits for an answer, as in wrk2), timing it from that due time.
async fn connection(
    plan: std::sync::Arc<Plan>,
    mut due: tokio::sync::mpsc::UnboundedReceiver<Instant>,
) -> (Vec<(Instant, Duration)>, u64) {
    let (mut latencies, mut failed) = (Vec::new(), 0);
    let mut stream = tokio::net::TcpStream::connect(&plan.addr)
        .await
        .expect("connect");
    stream.set_nodelay(true).ok();
    let mut buf = Vec::with_capacity(16 * 1024);
    while let Some(at) = due.recv().await {
        let ok = match exchange(&mut stream, &plan.request, &mut buf).await {
            Some(status) => status == plan.expect,
            None => {
                // The connection broke: count it and open another.
                stream = tokio::net::TcpStream::connect(&plan.addr)
                    .await
                    .expect("reconnect");
                stream.set_nodelay(true).ok();
                false
            }
        };
        if ok {
            latencies.push((at, at.elapsed()));
        } else {
            failed += 1;
        }
    }
    (latencies, failed)
}

/// Sends one request and reads its whole answer; its status.
async fn exchange(s: &mut tokio::net::TcpStream, request: &[u8], buf: &mut Vec<u8>) -> Option<u16> {
    s.write_all(request).await.ok()?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..end]).ok()?;
        let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Some(status);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = url::Url::parse(&args.next().expect("URL")).expect("a URL");
    let rate: f64 = args.next().expect("RATE").parse().expect("a rate");
    let secs: f64 = args.next().expect("SECS").parse().expect("seconds");
    let conns: u64 = args.next().map_or(64, |c| c.parse().expect("connections"));
    let body = std::env::var("FORM_BODY").expect("FORM_BODY");
    let expect: u16 = std::env::var("EXPECT_STATUS").map_or(200, |s| s.parse().expect("a status"));
    let host = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port_or_known_default().unwrap_or(80)
    );
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        url.path(),
        body.len()
    );
    if let Ok(a) = std::env::var("AUTH_HEADER") {
        request.push_str(&format!("Authorization: {a}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let total = (rate * secs) as u64;
    let plan = std::sync::Arc::new(Plan {
        addr: host,
        request: request.into_bytes(),
        expect,
    });
    let (senders, tasks): (Vec<_>, Vec<_>) = (0..conns)
        .map(|_| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (tx, tokio::spawn(connection(plan.clone(), rx)))
        })
        .unzip();
    // The schedule is kept by a thread of its own that sleeps to each due time
    // (to the microsecond; tokio's timer ticks in milliseconds) and hands it to
    // the next connection in turn.
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let due = start + interval.mul_f64(i as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let _ = senders[(i % conns) as usize].send(due);
        }
    });
    let (mut latencies, mut failed) = (Vec::with_capacity(total as usize), 0);
    for t in tasks {
        let (l, f) = t.await.expect("a connection task");
        latencies.extend(l);
        failed += f;
    }
    pacer.join().expect("the pacer");
    let elapsed = start.elapsed().as_secs_f64();
    if let Ok(path) = std::env::var("OPEN_TRACE") {
        // Each request's due time (ms from the start) and latency (ms), in due order.
        latencies.sort();
        let lines: String = latencies
            .iter()
            .map(|(at, l)| {
                let due = at.saturating_duration_since(start).as_secs_f64() * 1e3;
                format!("{due:.3} {:.3}\n", l.as_secs_f64() * 1e3)
            })
            .collect();
        std::fs::write(&path, lines).expect("the trace file");
    }
    let mut latencies: Vec<Duration> = latencies.into_iter().map(|(_, l)| l).collect();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "OPEN rate={rate:.0} conns={conns} secs={elapsed:.2} ok={} failed={failed} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3}",
        latencies.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        pct(1.0),
    );
}
