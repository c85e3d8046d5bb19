//! The admin API (`/admin/v1`) the console drives: routes here, one module per
//! resource; authentication and the role check run before every handler.

pub mod audit_api;
pub mod auth;
pub mod common;
pub mod connections;
pub mod csv;
pub mod directory;
pub mod events;
pub mod findings;
pub mod kills;
pub mod notifications;
pub mod policies;
pub mod problem;
pub mod registry;
pub mod requests;
pub mod reviews;
pub mod stats;
pub mod tokens;
pub use crate::usage;
pub use crate::views;

use crate::state::SharedIdp;
use axum::{
    Json, Router,
    routing::{get, post},
};

pub fn router(idp: SharedIdp) -> Router<SharedIdp> {
    let protected = Router::new()
        .route("/admin/v1/whoami", get(directory::whoami))
        .route("/admin/v1/connection-requests", get(requests::list))
        .route("/admin/v1/connection-requests/{id}", get(requests::get))
        .route(
            "/admin/v1/connection-requests/{id}/approve",
            post(requests::approve),
        )
        .route(
            "/admin/v1/connection-requests/{id}/deny",
            post(requests::deny),
        )
        .route("/admin/v1/connections", get(connections::list))
        .route(
            "/admin/v1/connections/bulk-revoke",
            post(connections::bulk_revoke),
        )
        .route(
            "/admin/v1/connections/{id}",
            get(connections::get).patch(connections::modify),
        )
        .route(
            "/admin/v1/connections/{id}/suspend",
            post(connections::suspend),
        )
        .route(
            "/admin/v1/connections/{id}/resume",
            post(connections::resume),
        )
        .route(
            "/admin/v1/connections/{id}/revoke",
            post(connections::revoke),
        )
        .route(
            "/admin/v1/connections/{id}/attest",
            post(connections::attest),
        )
        .route("/admin/v1/connections/{id}/renew", post(connections::renew))
        .route("/admin/v1/findings", get(findings::list))
        .route("/admin/v1/findings/{id}/state", post(findings::set_state))
        .route("/admin/v1/kills", get(kills::list))
        .route("/admin/v1/kills/{id}", get(kills::get))
        .route("/admin/v1/kills/{id}/reinstate", post(kills::reinstate))
        .route(
            "/admin/v1/reviews",
            get(reviews::list).post(reviews::create),
        )
        .route("/admin/v1/reviews/{id}", get(reviews::get))
        .route("/admin/v1/reviews/{id}/items", get(reviews::items))
        .route("/admin/v1/reviews/{id}/decisions", post(reviews::decide))
        .route(
            "/admin/v1/reviews/{id}/items/{item}/reassign",
            post(reviews::reassign),
        )
        .route("/admin/v1/reviews/{id}/complete", post(reviews::complete))
        .route("/admin/v1/reviews/{id}/report", get(reviews::report))
        .route("/admin/v1/stats", get(stats::stats))
        .route(
            "/admin/v1/clients",
            get(directory::clients).post(registry::register),
        )
        .route(
            "/admin/v1/clients/{client_id}",
            get(registry::get).patch(registry::update),
        )
        .route(
            "/admin/v1/clients/{client_id}/secret",
            post(registry::rotate_secret),
        )
        .route(
            "/admin/v1/clients/{client_id}/retire",
            post(registry::retire),
        )
        .route(
            "/admin/v1/resource-apps",
            get(directory::resource_apps).post(registry::register_app),
        )
        .route(
            "/admin/v1/resource-apps/{id}",
            get(registry::get_app).patch(registry::update_app),
        )
        .route(
            "/admin/v1/resource-apps/{id}/retire",
            post(registry::retire_app),
        )
        .route("/admin/v1/policies", get(policies::get).put(policies::put))
        .route("/admin/v1/policies/run", post(policies::run))
        .route(
            "/admin/v1/notification-channels",
            get(notifications::list).post(notifications::create),
        )
        .route(
            "/admin/v1/notification-channels/{id}",
            axum::routing::delete(notifications::delete),
        )
        .route(
            "/admin/v1/notification-channels/{id}/deliveries",
            get(notifications::deliveries),
        )
        .route("/admin/v1/users", get(directory::users))
        .route("/admin/v1/groups", get(directory::groups))
        .route("/admin/v1/audit", get(audit_api::query))
        .route("/admin/v1/audit/export", get(audit_api::export))
        .route("/admin/v1/audit/verify", post(audit_api::verify))
        .route("/admin/v1/events", get(events::stream))
        .route(
            "/admin/v1/api-tokens",
            get(tokens::list).post(tokens::create),
        )
        .route("/admin/v1/api-tokens/{id}/revoke", post(tokens::revoke))
        .route_layer(axum::middleware::from_fn_with_state(idp, auth::authorize));
    Router::new()
        .route(
            "/admin/v1/openapi.json",
            get(|| async { Json(admin_api::openapi::document()) }),
        )
        .merge(protected)
}
