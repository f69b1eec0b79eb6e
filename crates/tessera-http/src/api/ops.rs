//! Operations: `/health` (checks the database) and `/metrics` (Prometheus).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_health)).routes(routes!(get_metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// "OK" or "ERROR".
    pub status: String,
    /// "ok" or "unreachable".
    pub database: String,
    /// sqlite or postgres.
    pub backend: String,
    pub version: String,
}

/// Health: 200 when the database answers, 503 when it does not
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = HealthBody), (status = 503, body = HealthBody)))]
pub async fn get_health(State(s): State<AppState>) -> (StatusCode, Json<HealthBody>) {
    let ok = s.app.store.ping().await.is_ok();
    let body = HealthBody {
        status: if ok { "OK" } else { "ERROR" }.into(),
        database: if ok { "ok" } else { "unreachable" }.into(),
        backend: format!("{:?}", s.app.store.backend()).to_lowercase(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// Prometheus metrics
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn get_metrics(State(s): State<AppState>) -> impl IntoResponse {
    let body = s.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
