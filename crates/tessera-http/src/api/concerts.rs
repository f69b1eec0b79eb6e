//! The concert-reservation paths (`/concerts`, `/reservation`, `/payment`; a concert is a seated
//! event), kept for clients written against them and sharing the handlers of
//! `/events/{id}/seats`, `/reservations` and `/payments`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::catalogue::EventQuery;

use super::booking::{ReservationBody, ReservationRequest, SeatBody, SeatQuery};
use super::wallet::PaymentRequest;
use super::{EventBody, Paged};
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_concerts))
        .routes(routes!(list_concert_seats))
        .routes(routes!(create_reservation_seed))
        .routes(routes!(create_payment_seed))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConcertQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Concerts on sale: seated events that have not started
#[utoipa::path(get, path = "/concerts", tag = "concerts", params(ConcertQuery),
    responses(
        (status = 200, body = Paged<EventBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_concerts(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ConcertQuery>,
) -> ApiResult<Json<Paged<EventBody>>> {
    let now = tessera_app::domain::clock::format_ts(s.app.now());
    let query = EventQuery {
        seating: Some("seated".into()),
        start_from: Some(now),
        limit: q.limit,
        cursor: q.cursor,
        ..Default::default()
    };
    Ok(Json(Paged::from_page(s.app.list_events(&query).await?, EventBody::from)))
}

/// A concert's seats (same as GET /events/{event_id}/seats)
#[utoipa::path(get, path = "/concerts/{id}/seats", tag = "concerts",
    params(("id" = String, Path, description = "Concert (event) id (UUID)"), SeatQuery),
    responses(
        (status = 200, body = Paged<SeatBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_concert_seats(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SeatQuery>,
) -> ApiResult<Json<Paged<SeatBody>>> {
    super::booking::seats_page(&s, &id, q).await
}

/// Hold seats (same as POST /reservations)
#[utoipa::path(post, path = "/reservation", tag = "concerts", security(("bearer" = [])),
    request_body = ReservationRequest,
    params(("X-Queue-Token" = Option<String>, Header, description = "Admitted queue token, when the concert has a waiting room")),
    responses(
        (status = 201, body = ReservationBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Seats taken (`taken`, `available_nearby`) or sold out", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_reservation_seed(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ReservationRequest>,
) -> ApiResult<(StatusCode, Json<ReservationBody>)> {
    super::booking::reserve(&s, &who, &headers, b).await
}

/// Pay a hold (same as POST /payments)
#[utoipa::path(post, path = "/payment", tag = "concerts", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = PaymentRequest,
    responses(
        (status = 201, body = super::wallet::ReceiptBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 402, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_payment_seed(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiJson(b): ApiJson<PaymentRequest>,
) -> ApiResult<Response> {
    super::wallet::pay(&s, &who, &headers, b).await
}
