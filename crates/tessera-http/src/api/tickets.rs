//! Tickets and their codes: `/users/me/tickets`, `/tickets/{ticket_id}` with its QR images, and
//! the event keys that sign the codes (`/events/{event_id}/keys`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_domain::id::{EventId, JobId, PurchaseId, TicketId, TicketTypeId, UserId};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::ticket_codes::EventKeyView;
use tessera_app::tickets::TicketView;

use super::Paged;
use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_my_tickets))
        .routes(routes!(get_ticket))
        .routes(routes!(get_ticket_qr_svg))
        .routes(routes!(get_ticket_qr_png))
        .routes(routes!(get_ticket_pdf))
        .routes(routes!(list_event_keys))
        .routes(routes!(rotate_event_key))
        .routes(routes!(retire_event_key))
        .routes(routes!(resend_ticket))
        .routes(routes!(reissue_ticket))
        .routes(routes!(send_event_tickets))
        .routes(routes!(get_job))
}

/// A ticket with its door code.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketBody {
    pub ticket_id: TicketId,
    pub purchase_id: PurchaseId,
    pub event_id: EventId,
    pub event_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_time: Option<OffsetDateTime>,
    pub location: Option<String>,
    /// The holder.
    pub user_id: UserId,
    pub holder_name: String,
    /// The guest it was issued for (tickets from applications).
    pub guest_name: Option<String>,
    pub ticket_type_id: Option<TicketTypeId>,
    pub ticket_type_name: Option<String>,
    pub seat_number: Option<i32>,
    /// valid or void (refunded, cancelled or reissued: the code no longer opens the door).
    pub status: String,
    /// The signed code the QR carries (base32); null for a void ticket.
    pub code: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub voided_at: Option<OffsetDateTime>,
}

impl From<TicketView> for TicketBody {
    fn from(v: TicketView) -> Self {
        let t = v.ticket;
        TicketBody {
            ticket_id: t.ticket_id,
            purchase_id: t.purchase_id,
            event_id: t.event_id,
            event_name: t.event_name,
            start_time: t.event_start,
            end_time: t.event_end,
            location: t.location,
            user_id: t.user_id,
            holder_name: t.holder_name,
            guest_name: t.guest_name,
            ticket_type_id: t.ticket_type_id,
            ticket_type_name: t.ticket_type_name,
            seat_number: t.seat_number,
            status: t.status.to_string(),
            code: v.code,
            created_at: t.created_at,
            voided_at: t.voided_at,
        }
    }
}

/// One of an event's ticket-signing keys (never the private half).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventKeyBody {
    pub key_id: i32,
    /// The Ed25519 public key, base64url.
    pub public_key: String,
    /// signing (signs new codes), verifying (still accepted) or retired (refused).
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
}

impl From<EventKeyView> for EventKeyBody {
    fn from(k: EventKeyView) -> Self {
        EventKeyBody {
            key_id: k.key_id,
            public_key: k.public_key,
            status: k.status.to_string(),
            created_at: k.created_at,
            retired_at: k.retired_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventKeysBody {
    pub items: Vec<EventKeyBody>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, default 20.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The caller's tickets, newest first
#[utoipa::path(get, path = "/users/me/tickets", tag = "tickets", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Paged<TicketBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_my_tickets(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<TicketBody>>> {
    let page = s.app.my_tickets(&who, q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Paged::from_page(page, TicketBody::from)))
}

/// A ticket with its code (its holder, the event's organizer or an admin)
#[utoipa::path(get, path = "/tickets/{ticket_id}", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "Ticket id (UUID)")),
    responses(
        (status = 200, body = TicketBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket, or not yours to see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_ticket(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(ticket_id): Path<String>,
) -> ApiResult<Json<TicketBody>> {
    let id = path_id(&ticket_id, "ticket")?;
    Ok(Json(s.app.ticket(&who, id).await?.into()))
}

async fn ticket_code(s: &AppState, who: &tessera_app::Principal, raw: &str) -> Result<String, ApiError> {
    let id = path_id(raw, "ticket")?;
    s.app
        .ticket(who, id)
        .await?
        .code
        .ok_or_else(|| ApiError::new(StatusCode::GONE, "ticket_void", "this ticket is void: it has no code"))
}

/// The ticket's QR code as SVG
#[utoipa::path(get, path = "/tickets/{ticket_id}/qr.svg", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "Ticket id (UUID)")),
    responses(
        (status = 200, description = "The QR symbol", content_type = "image/svg+xml", body = String),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "A void ticket", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_ticket_qr_svg(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(ticket_id): Path<String>,
) -> ApiResult<Response> {
    let code = ticket_code(&s, &who, &ticket_id).await?;
    let svg = tessera_app::qr::svg(&code)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "private, no-store")], svg)
        .into_response())
}

/// The ticket's QR code as PNG
#[utoipa::path(get, path = "/tickets/{ticket_id}/qr.png", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "Ticket id (UUID)")),
    responses(
        (status = 200, description = "The QR symbol", content_type = "image/png", body = Vec<u8>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "A void ticket", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_ticket_qr_png(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(ticket_id): Path<String>,
) -> ApiResult<Response> {
    let code = ticket_code(&s, &who, &ticket_id).await?;
    let png = tessera_app::qr::png(&code, 6)?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "private, no-store")], png)
        .into_response())
}

/// The printable ticket (PDF: event, date, venue, holder, seat and QR)
#[utoipa::path(get, path = "/tickets/{ticket_id}/ticket.pdf", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "Ticket id (UUID)")),
    responses(
        (status = 200, description = "One A4 page", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "A void ticket", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_ticket_pdf(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(ticket_id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id(&ticket_id, "ticket")?;
    let v = s.app.ticket(&who, id).await?;
    let code = v.code.ok_or_else(|| {
        ApiError::new(StatusCode::GONE, "ticket_void", "this ticket is void: it has no code")
    })?;
    let pdf = s.app.ticket_pdf(&v.ticket, &code).await?;
    let disposition = format!("inline; filename=\"ticket-{id}.pdf\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        pdf,
    )
        .into_response())
}

/// An event's ticket-signing keys (its organizer or an admin)
///
/// The first key is made when the event's first code is issued (or when this is first asked).
#[utoipa::path(get, path = "/events/{event_id}/keys", tag = "tickets", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, body = EventKeysBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_event_keys(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
) -> ApiResult<Json<EventKeysBody>> {
    let id = path_id(&event_id, "event")?;
    let items = s.app.event_keys(&who, id).await?.into_iter().map(EventKeyBody::from).collect();
    Ok(Json(EventKeysBody { items }))
}

/// Rotate an event's signing key
///
/// New codes are signed with the new key; codes signed with the old one keep working until it
/// is retired.
#[utoipa::path(post, path = "/events/{event_id}/keys/rotate", tag = "tickets", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 201, body = EventKeyBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A rotation raced this one, or all 255 key ids are used", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate_event_key(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
) -> ApiResult<(StatusCode, Json<EventKeyBody>)> {
    let id = path_id(&event_id, "event")?;
    Ok((StatusCode::CREATED, Json(s.app.rotate_event_key(&who, id).await?.into())))
}

/// Retire an event key that no longer signs
///
/// Codes it signed stop opening the door; their tickets get new codes from the current key.
#[utoipa::path(post, path = "/events/{event_id}/keys/{key_id}/retire", tag = "tickets", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"), ("key_id" = i64, Path, description = "Key id (1–255)")),
    responses(
        (status = 204, description = "Retired"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key still signs (rotate first) or is already retired", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn retire_event_key(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((event_id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = path_id(&event_id, "event")?;
    let key_id = key_id.parse::<i64>().map_err(|_| ApiError::not_found("event key"))?;
    s.app.retire_event_key(&who, id, key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A background job, answered at once.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    pub job_id: JobId,
    /// Where to follow it.
    pub href: String,
}

fn accepted(job_id: JobId) -> (StatusCode, [(header::HeaderName, String); 1], Json<JobAccepted>) {
    let href = format!("/jobs/{job_id}");
    (StatusCode::ACCEPTED, [(header::LOCATION, href.clone())], Json(JobAccepted { job_id, href }))
}

/// E-mail a ticket to its holder again (its holder, the event's organizer, an admin)
#[utoipa::path(post, path = "/tickets/{ticket_id}/resend", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "Ticket id (UUID)")),
    responses(
        (status = 202, description = "Queued", body = JobAccepted),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "A void ticket", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Sent again too often (3 an hour per ticket, 20 per requester)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resend_ticket(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(ticket_id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id(&ticket_id, "ticket")?;
    Ok(accepted(s.app.resend_ticket(&who, id).await?).into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SendTicketsRequest {
    /// Also holders who were sent their tickets before (default: only those not yet sent).
    pub all: Option<bool>,
}

/// E-mail an event's holders their tickets (its organizer or an admin)
///
/// One job for the whole event; follow its progress at `/jobs/{job_id}`.
#[utoipa::path(post, path = "/events/{event_id}/tickets/send", tag = "tickets", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    request_body = SendTicketsRequest,
    responses(
        (status = 202, description = "Queued", body = JobAccepted),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn send_event_tickets(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let id = path_id(&event_id, "event")?;
    // The body is optional: none means "only holders not yet sent".
    let b: SendTicketsRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SendTicketsRequest::default()
    } else {
        crate::extract::parse_json(&body)?
    };
    let all = b.all.unwrap_or(false);
    Ok(accepted(s.app.send_event_tickets(&who, id, all).await?).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobBody {
    pub job_id: JobId,
    /// ticket_mail or bulk_ticket_send.
    pub kind: String,
    /// queued, running, done or failed (after its last retry).
    pub status: String,
    pub attempts: i32,
    pub progress_done: i32,
    pub progress_total: Option<i32>,
    pub last_error: Option<String>,
    /// The next attempt, while queued.
    #[serde(with = "time::serde::rfc3339")]
    pub run_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A background job's state and progress (whoever started it, or an admin)
#[utoipa::path(get, path = "/jobs/{job_id}", tag = "tickets", security(("bearer" = [])),
    params(("job_id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, body = JobBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_job(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(job_id): Path<String>,
) -> ApiResult<Json<JobBody>> {
    let id = path_id(&job_id, "job")?;
    let j = s.app.job(&who, id).await?;
    Ok(Json(JobBody {
        job_id: j.job_id,
        kind: j.kind,
        status: j.status.to_string(),
        attempts: j.attempts,
        progress_done: j.progress_done,
        progress_total: j.progress_total,
        last_error: j.last_error,
        run_at: j.run_at,
        created_at: j.created_at,
        updated_at: j.updated_at,
    }))
}

/// Reissue a ticket: the old code stops opening the door, a new ticket (same seat, guest and
/// purchase) is issued and e-mailed (its holder, the event's organizer, an admin)
#[utoipa::path(post, path = "/tickets/{ticket_id}/reissue", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "Ticket id (UUID)")),
    responses(
        (status = 201, description = "The new ticket", body = TicketBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "A void ticket", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reissue_ticket(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(ticket_id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id(&ticket_id, "ticket")?;
    let v = s.app.reissue_ticket(&who, id).await?;
    let location = format!("/tickets/{}", v.ticket.ticket_id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(TicketBody::from(v))).into_response())
}
