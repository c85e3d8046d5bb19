//! The audit log streamed to SIEMs as it is written (`[[audit_stream]]`):
//! RFC 5424 syslog over TCP with octet-counted frames (RFC 6587), optionally
//! over TLS (RFC 5425: the receiver's certificate checked against its host
//! and `ca_file` or the system's trust store), or a JSON webhook. Each stream reads events in order after its cursor, sends a batch,
//! and moves the cursor only once the receiver took it (TCP write flushed, or
//! a 2xx): at least once, in order, and a restart continues at the cursor. A
//! receiver that is down is retried with backoff, nothing skipped. Syslog
//! over TCP has no acknowledgement of its own: "took it" means the receiver's
//! TCP stack did, and a connection the receiver closed is noticed before the
//! next write; the webhook's 2xx is a real acknowledgement. (With several IdP
//! nodes each streams: a receiver may see an event more than once, as
//! at-least-once allows; `seq` tells them apart.)

use crate::{
    config::{AuditStream, StreamStart},
    state::SharedIdp,
};
use idp_store::{
    audit::{AuditFilter, StoredEvent},
    notifications,
};
use std::{sync::Arc, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};

/// A connection to a syslog receiver: plain TCP, or TLS over it.
trait SyslogIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> SyslogIo for T {}

/// The TLS client configuration of a stream: `ca_file`'s certificates as the
/// only roots, else the platform's verifier (the system's trust store).
fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let config = match ca_file {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            }
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
        None => {
            use rustls_platform_verifier::ConfigVerifierExt;
            rustls::ClientConfig::with_platform_verifier().map_err(|e| e.to_string())?
        }
    };
    Ok(Arc::new(config))
}

/// Whether the receiver closed the connection: a read that is ready at once
/// with end-of-file (TLS: its close_notify) or an error.
async fn closed(t: &mut Box<dyn SyslogIo>) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::ZERO, t.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Events one batch holds at most.
const BATCH: i64 = 500;
/// RFC 5424's facility 13, "log audit".
const FACILITY: u8 = 13;
/// The private enterprise number in structured data (a placeholder IANA
/// number for examples, RFC 5612).
const SD_ID: &str = "gatehouse@32473";

/// One event as an RFC 5424 message (without its frame).
pub fn syslog_message(host: &str, e: &StoredEvent) -> String {
    let severity = match e.event.outcome.as_str() {
        "success" => 6, // informational
        "error" => 3,
        _ => 5, // notice: refused, throttled
    };
    // RFC 3339 with milliseconds, UTC.
    let secs = scim::rfc3339(e.at_ms.div_euclid(1000));
    let at = format!(
        "{}.{:03}Z",
        secs.trim_end_matches('Z'),
        e.at_ms.rem_euclid(1000)
    );
    // MSGID: 1 to 32 printable ASCII characters.
    let msgid: String = e
        .event
        .kind
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    let param = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace(']', "\\]")
    };
    let json = serde_json::to_string(e).unwrap_or_default();
    format!(
        "<{}>1 {at} {host} gatehouse-idp - {} [{SD_ID} seq=\"{}\" id=\"{}\" outcome=\"{}\"] {json}",
        FACILITY * 8 + severity,
        if msgid.is_empty() { "-".into() } else { msgid },
        e.seq,
        param(&e.id),
        param(&e.event.outcome),
    )
}

/// RFC 6587 octet counting: `<length> <message>`.
pub fn frame(message: &str) -> String {
    format!("{} {message}", message.len())
}

struct Streamer {
    idp: SharedIdp,
    stream: AuditStream,
    http: reqwest::Client,
    host: String,
    tcp: Option<Box<dyn SyslogIo>>,
}

impl Streamer {
    /// Sends the next batch; how many events it held.
    async fn pass(&mut self) -> Result<usize, String> {
        let store = &self.idp.store;
        let name = &self.stream.name;
        let cursor = {
            let mut c = store.acquire().await.map_err(|e| e.to_string())?;
            match notifications::stream_cursor(&mut c, name)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(seq) => seq,
                None => {
                    let start = match self.stream.from {
                        StreamStart::Start => 0,
                        StreamStart::Now => notifications::audit_head(&mut c)
                            .await
                            .map_err(|e| e.to_string())?,
                    };
                    notifications::set_stream_cursor(&mut c, name, start, self.idp.now())
                        .await
                        .map_err(|e| e.to_string())?;
                    start
                }
            }
        };
        let events = store
            .audit_after(&AuditFilter::default(), cursor, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(0);
        };
        if let Some(addr) = &self.stream.syslog {
            let mut out = String::new();
            for e in &events {
                out.push_str(&frame(&syslog_message(&self.host, e)));
            }
            // A receiver that closed the connection reads as end-of-file: write
            // into a fresh connection, not into one nobody reads any more.
            if let Some(t) = &mut self.tcp
                && closed(t).await
            {
                self.tcp = None;
                return Err(format!("syslog {addr}: the receiver closed the connection"));
            }
            let tcp = match &mut self.tcp {
                Some(t) => t,
                None => {
                    let connect = TcpStream::connect(addr.as_str());
                    let s = tokio::time::timeout(Duration::from_secs(5), connect)
                        .await
                        .map_err(|_| format!("syslog {addr}: connect timed out"))?
                        .map_err(|e| format!("syslog {addr}: {e}"))?;
                    let conn: Box<dyn SyslogIo> = if self.stream.tls {
                        let config = tls_config(self.stream.ca_file.as_deref())?;
                        let host = addr
                            .rsplit_once(':')
                            .map_or(addr.as_str(), |(h, _)| h)
                            .trim_start_matches('[')
                            .trim_end_matches(']');
                        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                            .map_err(|e| format!("syslog {addr}: {e}"))?;
                        let handshake = tokio_rustls::TlsConnector::from(config).connect(name, s);
                        Box::new(
                            tokio::time::timeout(Duration::from_secs(5), handshake)
                                .await
                                .map_err(|_| format!("syslog {addr}: TLS handshake timed out"))?
                                .map_err(|e| format!("syslog {addr}: TLS: {e}"))?,
                        )
                    } else {
                        Box::new(s)
                    };
                    self.tcp.insert(conn)
                }
            };
            let sent = async {
                tcp.write_all(out.as_bytes()).await?;
                tcp.flush().await
            };
            match tokio::time::timeout(Duration::from_secs(10), sent).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    self.tcp = None;
                    return Err(format!("syslog {addr}: {e}"));
                }
                Err(_) => {
                    self.tcp = None;
                    return Err(format!("syslog {addr}: write timed out"));
                }
            }
        } else if let Some(url) = &self.stream.webhook {
            let r = self
                .http
                .post(url)
                .json(&serde_json::json!({ "events": events }))
                .send()
                .await
                .map_err(|e| e.without_url().to_string())?;
            if !r.status().is_success() {
                return Err(format!("webhook: HTTP {}", r.status()));
            }
        }
        let mut c = store.acquire().await.map_err(|e| e.to_string())?;
        notifications::set_stream_cursor(&mut c, name, last, self.idp.now())
            .await
            .map_err(|e| e.to_string())?;
        Ok(events.len())
    }
}

/// Streams forever: batch after batch while there are events, a short wait
/// when there are none, a growing one (to 30 s) while the receiver is down.
pub async fn run(idp: SharedIdp, stream: AuditStream, http: reqwest::Client) {
    let host = url::Url::parse(idp.issuer())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    let mut s = Streamer {
        idp,
        stream,
        http,
        host,
        tcp: None,
    };
    let mut backoff = Duration::from_millis(500);
    loop {
        match s.pass().await {
            Ok(n) if n as i64 == BATCH => continue,
            Ok(_) => {
                backoff = Duration::from_millis(500);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                tracing::warn!(stream = %s.stream.name, error = %e, "audit stream not delivered; will retry");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syslog_message_is_rfc5424_with_the_event_as_json_and_octet_counted() {
        let mut e = idp_store::audit::AuditEvent::new(
            "connection_request.first_approval.long",
            idp_store::audit::AuditOutcome::Refused,
        );
        e.reason = Some("a \"quoted\" reason".into());
        let stored = StoredEvent {
            seq: 42,
            id: "evt_a]b".into(),
            at_ms: 1_796_615_325_435,
            event: e,
            prev_hash: "p".into(),
            hash: "h".into(),
        };
        let m = syslog_message("idp.example", &stored);
        // <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG
        assert!(m.starts_with("<109>1 2026-12-07T"), "{m}");
        let fields: Vec<&str> = m.splitn(7, ' ').collect();
        assert_eq!(fields[2], "idp.example");
        assert_eq!(fields[3], "gatehouse-idp");
        assert_eq!(fields[4], "-");
        assert_eq!(fields[5].len(), 32, "MSGID is at most 32 characters");
        assert!(
            m.contains(r#"[gatehouse@32473 seq="42" id="evt_a\]b" outcome="refused"]"#),
            "{m}"
        );
        let json = &m[m.find("] {").unwrap() + 2..];
        let back: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back["seq"], 42);
        assert_eq!(back["reason"], "a \"quoted\" reason");
        let f = frame(&m);
        assert_eq!(f, format!("{} {m}", m.len()));
    }
}
