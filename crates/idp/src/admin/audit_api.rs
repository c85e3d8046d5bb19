//! The audit log through the admin API: query with filters, export as JSONL or
//! CSV (streamed page by page, so an export never holds the log in memory), and
//! verify the hash chain.

use super::{
    common::{ApiQuery, decode_cursor, page_at},
    problem::ApiResult,
};
use crate::{audit, state::SharedIdp};
use admin_api::*;
use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use idp_store::audit::{AuditFilter, Order};

pub use admin_api::AuditQuery;

fn view(e: audit::StoredEvent) -> idp_store::DbResult<AuditEventView> {
    Ok(AuditEventView {
        outcome: e.event.outcome()?,
        seq: e.seq,
        id: e.id,
        at_ms: e.at_ms,
        kind: e.event.kind,
        actor: e.event.actor,
        client_id: e.event.client_id,
        subject: e.event.subject,
        target: e.event.target,
        reason: e.event.reason,
        detail: e.event.detail,
        prev_hash: e.prev_hash,
        hash: e.hash,
    })
}

fn filter_of(q: &AuditQuery) -> AuditFilter {
    AuditFilter {
        kind: q.kind.clone(),
        actor: q.actor.clone(),
        client_id: q.client_id.clone(),
        subject: q.subject.clone(),
        target: q.target.clone(),
        outcome: q.outcome,
        since_ms: q.since_ms,
        until_ms: q.until_ms,
    }
}

/// One page of the log, oldest first or (`order=desc`) newest first, counted
/// and paged in SQL.
pub async fn query(
    State(idp): State<SharedIdp>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEventView>>> {
    let order = match q.order.unwrap_or(AuditOrder::Asc) {
        AuditOrder::Asc => Order::Oldest,
        AuditOrder::Desc => Order::Newest,
    };
    let offset = decode_cursor(q.cursor.as_deref())?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let (events, total) = idp
        .store
        .audit_page(&filter_of(&q), order, offset, limit)
        .await?;
    let items = events
        .into_iter()
        .map(view)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page_at(items, offset, total)))
}

const CSV_HEADER: &str =
    "seq,id,at_ms,kind,actor,client_id,subject,target,outcome,reason,detail,prev_hash,hash\n";

fn csv_row(e: &AuditEventView) -> String {
    let o = |v: &Option<String>| super::csv::cell(v.as_deref().unwrap_or(""));
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        e.seq,
        super::csv::cell(&e.id),
        e.at_ms,
        super::csv::cell(&e.kind),
        o(&e.actor),
        o(&e.client_id),
        o(&e.subject),
        o(&e.target),
        super::csv::cell(e.outcome.as_str()),
        o(&e.reason),
        super::csv::cell(&e.detail.to_string()),
        e.prev_hash,
        e.hash
    )
}

/// `ExportQuery` is read in two parts: serde's `flatten` cannot read numbers
/// from a query string, so the filter (`since_ms`, …) and the format are each
/// parsed from the whole string (each ignores the other's fields).
pub async fn export(
    State(idp): State<SharedIdp>,
    ApiQuery(filter): ApiQuery<AuditQuery>,
    ApiQuery(format): ApiQuery<ExportFormatQuery>,
) -> ApiResult<Response> {
    let q = ExportQuery {
        format: format.format,
        filter,
    };
    let csv = match q.format.unwrap_or(AuditExportFormat::Jsonl) {
        AuditExportFormat::Jsonl => false,
        AuditExportFormat::Csv => true,
    };
    let filter = filter_of(&q.filter);
    let stream = futures_util::stream::unfold(
        (idp, filter, 0i64, true),
        move |(idp, f, after, first)| async move {
            if after < 0 {
                return None;
            }
            let page = match idp.store.audit_after(&f, after, 1000).await {
                Ok(page) => page
                    .into_iter()
                    .map(view)
                    .collect::<Result<Vec<AuditEventView>, _>>()
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match page {
                Ok(page) => {
                    let mut out = String::new();
                    if csv && first {
                        out.push_str(CSV_HEADER);
                    }
                    let next = page.last().map(|e| e.seq).unwrap_or(-1);
                    for e in &page {
                        if csv {
                            out.push_str(&csv_row(e));
                        } else {
                            out.push_str(&serde_json::to_string(e).unwrap_or_default());
                            out.push('\n');
                        }
                    }
                    let next = if page.len() < 1000 { -1 } else { next };
                    if out.is_empty() {
                        return None;
                    }
                    Some((Ok::<_, std::io::Error>(out), (idp, f, next, false)))
                }
                Err(e) => Some((Err(std::io::Error::other(e)), (idp, f, -1, false))),
            }
        },
    );
    let mut r = Body::from_stream(stream).into_response();
    let ct = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(if csv {
            "attachment; filename=\"audit.csv\""
        } else {
            "attachment; filename=\"audit.jsonl\""
        }),
    );
    Ok(r)
}

pub async fn verify(State(idp): State<SharedIdp>) -> ApiResult<Json<ChainReportView>> {
    let r = idp.store.verify_audit().await?;
    Ok(Json(ChainReportView {
        ok: r.ok(),
        events: r.events,
        first_broken: r.first_broken,
        head: r.head,
    }))
}
