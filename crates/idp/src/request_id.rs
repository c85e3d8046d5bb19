//! Every request gets an id: the one a proxy sent in `X-Request-Id` when it is a
//! plain token (at most 64 of `A-Z a-z 0-9 . _ -`), else a fresh one. It names
//! the request's tracing span, so every log line written while handling it
//! carries it (`--log-format json` puts it in each line's `span`), and it is
//! echoed in the response's `X-Request-Id` for the caller to quote. The span
//! holds the method and the path only: never a query string or a header value.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

fn plain(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| plain(v))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
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
