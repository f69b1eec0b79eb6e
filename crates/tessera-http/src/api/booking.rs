//! Ticket types, seats and holds (`/events/{id}/ticket-types`, `/events/{id}/seats`, `/reservations`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tessera_domain::id::{EventId, ReservationId, TicketTypeId, UserId};
use tessera_domain::records::{Seat, TicketTypeView};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::booking::{ReservationView, ReserveInput, TicketTypePatch};
use tessera_app::domain::booking::TicketTypeInput;

use super::{DecimalInput, Paged, double_option, money};
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_ticket_type, list_ticket_types))
        .routes(routes!(patch_ticket_type))
        .routes(routes!(list_seats))
        .routes(routes!(create_reservation))
        .routes(routes!(get_reservation, release_reservation))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TicketTypeRequest {
    #[schema(example = "Student")]
    pub name: Option<String>,
    /// Decimal ≥ 0 (default 0).
    pub price: Option<DecimalInput>,
    /// Places of this type (1 to 100,000).
    pub quota: Option<i64>,
    /// Most of this type one person may hold or buy (default 10).
    pub per_person_limit: Option<i64>,
    /// RFC 3339; on sale from then (default: now).
    pub sale_starts_at: Option<String>,
    /// RFC 3339; on sale until then (default: the event's start).
    pub sale_ends_at: Option<String>,
    /// Sold through applications with approval instead of reservations.
    pub requires_approval: Option<bool>,
    /// Let holders back in after an exit (default true).
    pub allow_reentry: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TicketTypePatchRequest {
    pub name: Option<String>,
    pub price: Option<DecimalInput>,
    pub quota: Option<i64>,
    pub per_person_limit: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub sale_starts_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub sale_ends_at: Option<Option<String>>,
    pub requires_approval: Option<bool>,
    pub allow_reentry: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketTypeBody {
    pub ticket_type_id: TicketTypeId,
    pub event_id: EventId,
    pub name: String,
    pub price: String,
    pub quota: i32,
    pub per_person_limit: i32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sale_starts_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sale_ends_at: Option<OffsetDateTime>,
    pub requires_approval: bool,
    pub allow_reentry: bool,
    pub sold: i64,
    pub held: i64,
    pub available: i64,
}

impl From<TicketTypeView> for TicketTypeBody {
    fn from(v: TicketTypeView) -> Self {
        let r = v.row;
        TicketTypeBody {
            ticket_type_id: r.ticket_type_id,
            event_id: r.event_id,
            name: r.name,
            price: money(r.price),
            quota: r.quota,
            per_person_limit: r.per_person_limit,
            sale_starts_at: r.sale_starts_at,
            sale_ends_at: r.sale_ends_at,
            requires_approval: r.requires_approval,
            allow_reentry: r.allow_reentry,
            sold: v.sold,
            held: v.held,
            available: (i64::from(r.quota) - v.sold - v.held).max(0),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketTypeList {
    pub items: Vec<TicketTypeBody>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeatQuery {
    /// available, held or sold.
    pub status: Option<String>,
    /// 1 to 1000 (default 100).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatBody {
    pub seat_number: i32,
    pub section: Option<String>,
    pub row: Option<String>,
    pub price: String,
    /// available, held or sold (an expired hold shows as available).
    pub status: String,
}

impl From<Seat> for SeatBody {
    fn from(s: Seat) -> Self {
        SeatBody {
            seat_number: s.seat_number,
            section: s.section,
            row: s.row_label,
            price: money(s.price),
            status: s.status.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReservationRequest {
    /// The event (also accepted as concert_id).
    #[serde(alias = "concert_id")]
    pub event_id: Option<EventId>,
    /// Seated events: the seats to hold.
    pub seat_numbers: Option<Vec<i64>>,
    /// General admission: the ticket type…
    pub ticket_type_id: Option<TicketTypeId>,
    /// …and how many places. Seated events: without seat_numbers, this many of the best
    /// available seats, chosen by the server.
    pub quantity: Option<i64>,
    /// Seated events, with quantity: the best available seats nearest this seat number (the
    /// lower one on a tie), or any free seats when none are available near it.
    pub near_seat: Option<i64>,
    /// While the event's waiting room is on: your admitted queue token (or the X-Queue-Token header).
    pub queue_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationBody {
    pub reservation_id: ReservationId,
    pub event_id: EventId,
    pub user_id: UserId,
    pub ticket_type_id: Option<TicketTypeId>,
    pub seat_numbers: Vec<i64>,
    pub quantity: i32,
    #[schema(example = "7000.00")]
    pub amount: String,
    /// pending, completed, cancelled or expired.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub reserved_at: OffsetDateTime,
    /// Pay before this or the hold lapses.
    #[serde(with = "time::serde::rfc3339")]
    pub payment_deadline: OffsetDateTime,
}

impl From<ReservationView> for ReservationBody {
    fn from(v: ReservationView) -> Self {
        let r = v.reservation;
        ReservationBody {
            reservation_id: r.reservation_id,
            event_id: r.event_id,
            user_id: r.user_id,
            ticket_type_id: r.ticket_type_id,
            seat_numbers: v.seat_numbers,
            quantity: r.quantity,
            amount: money(r.amount),
            status: r.status.to_string(),
            reserved_at: r.reserved_at,
            payment_deadline: r.payment_deadline,
        }
    }
}

impl From<TicketTypeRequest> for TicketTypeInput {
    fn from(b: TicketTypeRequest) -> Self {
        TicketTypeInput {
            name: b.name,
            price: b.price.map(DecimalInput::into_string),
            quota: b.quota,
            per_person_limit: b.per_person_limit,
            sale_starts_at: b.sale_starts_at,
            sale_ends_at: b.sale_ends_at,
            requires_approval: b.requires_approval,
            allow_reentry: b.allow_reentry,
        }
    }
}

/// Add a ticket type to an event (its organizer or an admin)
#[utoipa::path(post, path = "/events/{event_id}/ticket-types", tag = "booking", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")), request_body = TicketTypeRequest,
    responses(
        (status = 201, body = TicketTypeBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_ticket_type(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    ApiJson(b): ApiJson<TicketTypeRequest>,
) -> ApiResult<(StatusCode, Json<TicketTypeBody>)> {
    let id = path_id(&event_id, "event")?;
    let input = TicketTypeInput::from(b);
    let t = s.app.create_ticket_type(&who, id, &input).await?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

/// An event's ticket types with sold, held and available counts
#[utoipa::path(get, path = "/events/{event_id}/ticket-types", tag = "booking",
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, body = TicketTypeList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_ticket_types(
    State(s): State<AppState>,
    Path(event_id): Path<String>,
) -> ApiResult<Json<TicketTypeList>> {
    let id = path_id(&event_id, "event")?;
    let items = s.app.list_ticket_types(id).await?.into_iter().map(TicketTypeBody::from).collect();
    Ok(Json(TicketTypeList { items }))
}

/// Change a ticket type (its event's organizer or an admin)
#[utoipa::path(patch, path = "/events/{event_id}/ticket-types/{ticket_type_id}", tag = "booking",
    security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"),
           ("ticket_type_id" = String, Path, description = "Ticket type id (UUID)")),
    request_body = TicketTypePatchRequest,
    responses(
        (status = 200, body = TicketTypeBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Quota below what is sold or held, or name taken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_ticket_type(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((event_id, ticket_type_id)): Path<(String, String)>,
    ApiJson(b): ApiJson<TicketTypePatchRequest>,
) -> ApiResult<Json<TicketTypeBody>> {
    let event_id = path_id(&event_id, "event")?;
    let tt = path_id(&ticket_type_id, "ticket type")?;
    let patch = TicketTypePatch {
        name: b.name,
        price: b.price.map(DecimalInput::into_string),
        quota: b.quota,
        per_person_limit: b.per_person_limit,
        sale_starts_at: b.sale_starts_at,
        sale_ends_at: b.sale_ends_at,
        requires_approval: b.requires_approval,
        allow_reentry: b.allow_reentry,
    };
    Ok(Json(s.app.patch_ticket_type(&who, event_id, tt, patch).await?.into()))
}

pub(crate) async fn seats_page(
    s: &AppState,
    event_id: &str,
    q: SeatQuery,
) -> ApiResult<Json<Paged<SeatBody>>> {
    let id = path_id(event_id, "event")?;
    let page = s.app.list_seats(id, q.status.as_deref(), q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Paged::from_page(page, SeatBody::from)))
}

/// A seated event's seats with their status
///
/// Seats are listed in number order; an expired hold shows as available. General-admission
/// events have no numbered seats (an empty list): see their ticket types.
#[utoipa::path(get, path = "/events/{event_id}/seats", tag = "booking",
    params(("event_id" = String, Path, description = "Event id (UUID)"), SeatQuery),
    responses(
        (status = 200, body = Paged<SeatBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_seats(
    State(s): State<AppState>,
    Path(event_id): Path<String>,
    ApiQuery(q): ApiQuery<SeatQuery>,
) -> ApiResult<Json<Paged<SeatBody>>> {
    seats_page(&s, &event_id, q).await
}

pub(crate) async fn reserve(
    s: &AppState,
    who: &tessera_app::Principal,
    headers: &HeaderMap,
    b: ReservationRequest,
) -> ApiResult<(StatusCode, Json<ReservationBody>)> {
    let input = ReserveInput {
        event_id: b.event_id,
        seat_numbers: b.seat_numbers,
        ticket_type_id: b.ticket_type_id,
        quantity: b.quantity,
        near_seat: b.near_seat,
        queue_token: b.queue_token.or_else(|| super::queue::queue_token_header(headers)),
    };
    let v = s.app.reserve(who, &input).await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Hold seats or places until the payment deadline
///
/// All requested seats are held or none. A 409 `seats_taken` lists the taken ones in `taken` and
/// up to five available seats nearest the first of them in `available_nearby`, to try instead.
/// Over the per-person limit is 400; outside the sale window, or without an admitted queue token
/// when the event has a waiting room, 403.
#[utoipa::path(post, path = "/reservations", tag = "booking", security(("bearer" = [])),
    request_body = ReservationRequest,
    params(("X-Queue-Token" = Option<String>, Header, description = "Admitted queue token, when the event has a waiting room")),
    responses(
        (status = 201, body = ReservationBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not on sale", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Seats taken (`taken`, `available_nearby`) or sold out", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_reservation(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ReservationRequest>,
) -> ApiResult<(StatusCode, Json<ReservationBody>)> {
    reserve(&s, &who, &headers, b).await
}

/// One of the caller's reservations
#[utoipa::path(get, path = "/reservations/{reservation_id}", tag = "booking", security(("bearer" = [])),
    params(("reservation_id" = String, Path, description = "Reservation id (UUID)")),
    responses(
        (status = 200, body = ReservationBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_reservation(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(reservation_id): Path<String>,
) -> ApiResult<Json<ReservationBody>> {
    let id = path_id(&reservation_id, "reservation")?;
    Ok(Json(s.app.get_reservation(&who, id).await?.into()))
}

/// Release a pending hold
#[utoipa::path(delete, path = "/reservations/{reservation_id}", tag = "booking", security(("bearer" = [])),
    params(("reservation_id" = String, Path, description = "Reservation id (UUID)")),
    responses(
        (status = 204, description = "Released"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending (paid, expired or released)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn release_reservation(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(reservation_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&reservation_id, "reservation")?;
    s.app.release_reservation(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
