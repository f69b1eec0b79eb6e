//! Operations: `/health` (checks the database) and `/metrics` (Prometheus).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::bearer_token;

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
    let health = s.app.health().await;
    let ok = health.database_ok;
    let body = HealthBody {
        status: if ok { "OK" } else { "ERROR" }.into(),
        database: if ok { "ok" } else { "unreachable" }.into(),
        backend: health.backend.into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// Prometheus metrics
///
/// For the metrics token (`TESSERA_METRICS_TOKEN`) or an admin. A scraper on a private network
/// can use the separate listener (`TESSERA_METRICS_LISTEN`) instead, which needs no token.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_metrics(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = bearer_token(&headers)?;
    let is_metrics_token = s.metrics_token.as_deref().is_some_and(|t| same_secret(t, token));
    if !is_metrics_token && !s.app.authenticate(token).await?.is_admin() {
        return Err(ApiError::forbidden("only the metrics token or an admin may read the metrics"));
    }
    Ok(render_metrics(&s))
}

/// The metrics in Prometheus' text format.
pub(crate) fn render_metrics(s: &AppState) -> Response {
    let body = s.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Compares two secrets by their digests, so the time taken says nothing about the token.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}
