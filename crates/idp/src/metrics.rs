//! What the IdP counts and times for Prometheus, and its `/metrics` endpoint,
//! served on a listener of its own (`metrics_listen`, off unless set): a scrape
//! target is unauthenticated, so it is bound where only the scraper reaches,
//! never on the public listener. Counters and histograms are updated where the
//! work happens (token exchanges, every HTTP request by route template, audit
//! appends, SET deliveries); gauges are read from the store at scrape time.

use crate::state::SharedIdp;
use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus_text::{CounterVec, HistogramVec, LATENCY_BUCKETS, gauge};
use std::time::Instant;

pub struct IdpMetrics {
    /// Token exchanges by outcome (`success`, `refused`, `error`) and OAuth
    /// error code (empty on success).
    pub exchanges: CounterVec<2>,
    /// Every request's time to its response head, by route template.
    pub http: HistogramVec<1>,
    /// Appending one audit event (the exchange answers after it).
    pub audit_append: HistogramVec<0>,
    /// The exchange gate's views by where they came from (see
    /// `connection_cache::Source`), and those from memory found stale.
    pub gate_views: CounterVec<1>,
    /// One SET delivery attempt, by receiver.
    pub delivery: HistogramVec<1>,
}

impl Default for IdpMetrics {
    fn default() -> Self {
        Self {
            exchanges: CounterVec::new(
                "gatehouse_token_exchanges_total",
                "Token exchanges (ID token or refresh token for an ID-JAG), by outcome and OAuth error code.",
                ["outcome", "error"],
            ),
            http: HistogramVec::new(
                "gatehouse_http_request_duration_seconds",
                "Time from request to response head, by endpoint (route template).",
                ["endpoint"],
                LATENCY_BUCKETS,
            ),
            audit_append: HistogramVec::new(
                "gatehouse_audit_append_duration_seconds",
                "Time to append one audit event, committed.",
                [],
                LATENCY_BUCKETS,
            ),
            gate_views: CounterVec::new(
                "gatehouse_gate_views_total",
                "Views the token-exchange gate decided on: `now` (the truth as read: a database read, or on SQLite the cache its only writer keeps true), `remembered` (this node's memory, on PostgreSQL; it stands if the gate epoch holds at the audit commit), `stale` (remembered, then found stale at the commit: the exchange was decided again).",
                ["source"],
            ),
            delivery: HistogramVec::new(
                "gatehouse_outbox_delivery_duration_seconds",
                "Time of one revocation event (SET) delivery attempt, by receiver.",
                ["receiver"],
                LATENCY_BUCKETS,
            ),
        }
    }
}

/// Times every request on the public listener by its route template (an
/// unmatched path is `unmatched`: raw paths would make the label set unbounded).
pub async fn track(State(idp): State<SharedIdp>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let resp = next.run(req).await;
    idp.metrics
        .http
        .observe([&endpoint], started.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics` alone, for the metrics listener.
pub fn router(idp: SharedIdp) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(idp)
}

async fn scrape(State(idp): State<SharedIdp>) -> Response {
    match render(&idp).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics scrape: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer",
            )
                .into_response()
        }
    }
}

/// The whole exposition: the families, then the gauges read now.
pub async fn render(idp: &SharedIdp) -> Result<String, sqlx::Error> {
    let m = &idp.metrics;
    let mut out = String::new();
    m.exchanges.render(&mut out);
    m.http.render(&mut out);
    m.audit_append.render(&mut out);
    m.gate_views.render(&mut out);
    m.delivery.render(&mut out);
    let pool = idp.store.pool();
    let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
    let mut db = idp.store.acquire().await?;
    let pending: i64 = idp_store::requests::pending_by_age(&mut db, idp.now())
        .await?
        .iter()
        .sum();
    let backlog = idp_store::outbox::backlog(&mut db).await?;
    drop(db);
    gauge(
        &mut out,
        "gatehouse_pending_connection_requests",
        "Connection requests waiting for a decision.",
        [],
        &[([], pending as f64)],
    );
    let backlog: Vec<([String; 1], f64)> =
        backlog.into_iter().map(|(r, n)| ([r], n as f64)).collect();
    gauge(
        &mut out,
        "gatehouse_outbox_backlog",
        "Revocation events (SETs) not yet delivered, by receiver.",
        ["receiver"],
        &backlog,
    );
    gauge(
        &mut out,
        "gatehouse_db_pool_connections",
        "Database pool connections, by state.",
        ["state"],
        &[
            (["idle".into()], idle),
            (["in_use".into()], (size - idle).max(0.0)),
        ],
    );
    Ok(out)
}
