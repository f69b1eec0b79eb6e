//! Purchases read API: an event's (organizer/admin) and the caller's own.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Paged, PurchaseBody};
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_event_purchases)).routes(routes!(list_my_purchases))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// An event's purchases (its organizer or an admin)
#[utoipa::path(get, path = "/events/{event_id}/purchases", tag = "purchases", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"), PageQuery),
    responses(
        (status = 200, body = Paged<PurchaseBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_event_purchases(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<PurchaseBody>>> {
    let id = path_id(&event_id, "event")?;
    let page = s.app.event_purchases(&who, id, q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Paged::from_page(page, PurchaseBody::from)))
}

/// The caller's purchases
#[utoipa::path(get, path = "/users/me/purchases", tag = "purchases", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, body = Paged<PurchaseBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_my_purchases(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<PurchaseBody>>> {
    let page = s.app.my_purchases(&who, q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Paged::from_page(page, PurchaseBody::from)))
}
