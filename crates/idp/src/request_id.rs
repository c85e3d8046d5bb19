//! Every request gets an id of the IdP's own (`rq_…`): it names the request's
//! tracing span, so every log line written while handling it carries it
//! (`--log-format json` puts it in each line's `span`), the admin API records it
//! in the audit event of what the request changed, and the response's
//! `X-Request-Id` names it for the caller to quote. A proxy's `X-Request-Id`
//! is kept beside it in the span as `upstream` when it is a plain token (at most
//! 64 of `A-Z a-z 0-9 . _ -`) — for correlation, never as the audited id, which
//! a caller must not choose. The span holds the method and the path, never a
//! query string or another header.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// This request's id, in the request's extensions for the handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn plain(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = format!("rq_{}", uuid::Uuid::new_v4().simple());
    let upstream = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| plain(v))
        .map(str::to_owned);
    let span = tracing::info_span!(
        "request",
        id = %id,
        upstream = upstream.as_deref(),
        method = %req.method(),
        path = %req.uri().path(),
    );
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = std::time::Instant::now();
    let mut resp = async {
        let resp = next.run(req).await;
        tracing::debug!(
            status = resp.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "answered"
        );
        resp
    }
    .instrument(span)
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER.clone(), v);
    }
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_plain_token_is_taken_from_a_proxy() {
        assert!(super::plain("3f2a-lb.node_1"));
        for bad in [
            "",
            "a b",
            "x\"y",
            "é",
            &"a".repeat(65),
            "id\r\nset-cookie: x",
        ] {
            assert!(!super::plain(bad), "{bad:?}");
        }
    }
}
