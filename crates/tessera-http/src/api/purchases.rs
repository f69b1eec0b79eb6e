//! Purchases read API: an event's (organizer/admin) and the caller's own.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tessera_app::checkout::BuyNow;
use tessera_domain::id::TicketTypeId;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Paged, PurchaseBody};
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_event_purchases, buy_tickets))
        .routes(routes!(list_my_purchases))
        .routes(routes!(refund_purchase))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BuyRequest {
    pub ticket_type_id: Option<TicketTypeId>,
    pub ticket_quantity: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundBody {
    pub purchase: PurchaseBody,
    /// Returned to the buyer's wallet.
    pub refunded_amount: String,
}

/// Buy general-admission tickets in one call (hold and pay from the wallet)
#[utoipa::path(post, path = "/events/{event_id}/purchases", tag = "purchases", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe"),
           ("X-Queue-Token" = Option<String>, Header, description = "Admitted queue token, when the event has a waiting room")),
    request_body = BuyRequest,
    responses(
        (status = 201, body = crate::api::wallet::ReceiptBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 402, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn buy_tickets(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<BuyRequest>,
) -> ApiResult<Response> {
    let id = path_id(&event_id, "event")?;
    let key = crate::api::wallet::idempotency_key(&headers)?;
    let queue = crate::api::queue::queue_token_header(&headers);
    let buy = BuyNow {
        ticket_type_id: b.ticket_type_id,
        quantity: b.ticket_quantity,
        idempotency_key: key,
        queue_token: queue,
    };
    let r = s.app.buy_now(&who, id, &buy).await?;
    Ok(crate::api::wallet::receipt_response(r))
}

/// Refund a purchase to the buyer's wallet
///
/// The buyer may refund until 24 hours before the event; the event's organizer or an admin at
/// any time. Seats and places return to sale and the tickets are voided.
#[utoipa::path(post, path = "/purchases/{purchase_id}/refund", tag = "purchases", security(("bearer" = [])),
    params(("purchase_id" = String, Path, description = "Purchase id (UUID)")),
    responses(
        (status = 200, body = RefundBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Refund window closed", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already refunded", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refund_purchase(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(purchase_id): Path<String>,
) -> ApiResult<Json<RefundBody>> {
    let id = path_id(&purchase_id, "purchase")?;
    let (p, amount) = s.app.refund(&who, id).await?;
    Ok(Json(RefundBody { purchase: p.into(), refunded_amount: super::money(amount) }))
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
