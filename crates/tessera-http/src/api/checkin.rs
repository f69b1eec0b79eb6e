//! Door check-in: `/checkin`, `/checkin/sync`, an event's offline bundle, counts and staff.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tessera_domain::id::{EventId, ScanId, TicketId, TicketTypeId, UserId};
use tessera_domain::records::StaffMember;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::checkin::{OfflineScan, Refusal, ScanInput};

use super::tickets::EventKeyBody;
use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check_in_ticket))
        .routes(routes!(sync_scans))
        .routes(routes!(get_offline_bundle))
        .routes(routes!(get_checkin_summary))
        .routes(routes!(list_event_staff))
        .routes(routes!(add_event_staff, remove_event_staff))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckinRequest {
    /// The code read from the ticket's QR.
    pub code: Option<String>,
    /// entry (default) or exit.
    pub direction: Option<String>,
    pub gate: Option<String>,
    pub device_id: Option<String>,
    /// The event this door is for: a code for another event is refused even for admins.
    pub event_id: Option<EventId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinBody {
    pub scan_id: ScanId,
    pub ticket_id: TicketId,
    pub event_id: EventId,
    pub direction: String,
    /// The event day the scan counts for (day 1 is the first 24 hours from the start).
    pub day: i32,
    pub inside: bool,
    /// Entries so far on this day.
    pub entries: i32,
    pub holder_name: String,
    /// The guest the ticket was issued for (an application's guest), when not the holder.
    pub guest_name: Option<String>,
    pub ticket_type_name: Option<String>,
    pub seat_number: Option<i32>,
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::InvalidCode(e) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_code", e.to_string())
        }
        Refusal::WrongEvent { event_id, event_name } => ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_event",
            format!("this ticket is for another event: {event_name}"),
        )
        .with("event_id", event_id)
        .with("event_name", event_name),
        Refusal::Void => ApiError::new(StatusCode::GONE, "ticket_void", "this ticket has been voided"),
        Refusal::UnknownTicket => ApiError::not_found("ticket"),
        Refusal::NotValidNow(e) => ApiError::new(StatusCode::FORBIDDEN, "not_valid_now", e.to_string()),
        Refusal::AlreadyInside { first_entry_at, first_gate, day } => {
            let when =
                first_entry_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
            ApiError::new(
                StatusCode::CONFLICT,
                "already_inside",
                format!(
                    "this ticket already entered on day {day}, first at {} through gate {}",
                    when.as_deref().unwrap_or("?"),
                    first_gate.as_deref().unwrap_or("(none)")
                ),
            )
            .with("first_entry_at", when)
            .with("first_gate", first_gate)
            .with("day", day)
        }
        Refusal::NotInside { day } => {
            ApiError::new(StatusCode::CONFLICT, "not_inside", format!("no entry to leave from on day {day}"))
                .with("day", day)
        }
        Refusal::App(e) => e.into(),
    }
}

/// Scan a ticket at the door (the event's staff, its organizer, an admin)
///
/// Verifies the code's signature, event, revocation and validity, then records the scan as one
/// conditional change: an entry succeeds once until an exit (re-entry if the ticket type allows
/// it). Every scan, accepted or not, is kept.
#[utoipa::path(post, path = "/checkin", tag = "check-in", security(("bearer" = [])),
    request_body = CheckinRequest,
    responses(
        (status = 200, body = CheckinBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another event's ticket (named), outside its validity, or not door staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A genuine code for a ticket that does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already inside (when and where first), or an exit without an entry", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "A voided ticket", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A forged, altered or unreadable code", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn check_in_ticket(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<CheckinRequest>,
) -> ApiResult<Json<CheckinBody>> {
    let input = ScanInput {
        code: b.code,
        direction: b.direction,
        gate: b.gate,
        device_id: b.device_id,
        event_id: b.event_id,
    };
    let a = s.app.check_in(&who, &input).await.map_err(refusal)?;
    let (inside, entries) = a.presence.as_ref().map(|p| (p.inside, p.entries)).unwrap_or_default();
    Ok(Json(CheckinBody {
        scan_id: a.scan_id,
        ticket_id: a.ticket.ticket_id,
        event_id: a.ticket.event_id,
        direction: a.direction.as_str().into(),
        day: a.day,
        inside,
        entries,
        holder_name: a.ticket.holder_name,
        guest_name: a.ticket.guest_name,
        ticket_type_name: a.ticket.ticket_type_name,
        seat_number: a.ticket.seat_number,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OfflineScanRequest {
    /// The scanner's own id for this scan (a UUID): sending it again changes nothing.
    pub scan_id: Option<ScanId>,
    pub code: Option<String>,
    /// entry (default) or exit.
    pub direction: Option<String>,
    pub gate: Option<String>,
    /// The scanner's clock when it scanned (RFC 3339, years 1970–2999 in UTC).
    #[schema(format = DateTime)]
    pub scanned_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SyncRequest {
    pub device_id: Option<String>,
    /// 1 to 1000 scans.
    pub scans: Option<Vec<OfflineScanRequest>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResultBody {
    pub scan_id: ScanId,
    pub ticket_id: Option<TicketId>,
    /// accepted; already_inside or not_inside (a conflict: an earlier scan won); or why the code
    /// was refused (invalid_code, ticket_void, wrong_event, unknown_ticket, not_valid_now).
    pub result: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncBody {
    pub results: Vec<SyncResultBody>,
    /// How many of this batch's scans lost to an earlier scan of the same ticket.
    pub conflicts: usize,
}

/// Merge scans made offline (door staff, organizers, admins)
///
/// The first entry by scan time wins whichever device syncs first; later ones come back as
/// conflicts. The same batch sent again changes nothing.
#[utoipa::path(post, path = "/checkin/sync", tag = "check-in", security(("bearer" = [])),
    request_body = SyncRequest,
    responses(
        (status = 200, body = SyncBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sync_scans(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<SyncRequest>,
) -> ApiResult<Json<SyncBody>> {
    let scans: Vec<OfflineScan> = b
        .scans
        .ok_or_else(|| ApiError::field("scans", "is required"))?
        .into_iter()
        .map(|x| OfflineScan {
            scan_id: x.scan_id,
            code: x.code,
            direction: x.direction,
            gate: x.gate,
            scanned_at: x.scanned_at,
        })
        .collect();
    let results = s.app.sync_scans(&who, b.device_id.as_deref(), &scans).await?;
    let conflicts = results.iter().filter(|r| r.is_conflict()).count();
    let results = results
        .into_iter()
        .map(|r| SyncResultBody { scan_id: r.scan_id, ticket_id: r.ticket_id, result: r.result })
        .collect();
    Ok(Json(SyncBody { results, conflicts }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BundleTicketType {
    pub ticket_type_id: TicketTypeId,
    pub name: String,
    pub allow_reentry: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineBundleBody {
    pub event_id: EventId,
    pub event_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_time: Option<OffsetDateTime>,
    /// Changes whenever the keys, revocations or ticket types do: refetch when it differs.
    pub version: String,
    /// Ed25519 public keys (base64url) still accepted, by key id.
    pub keys: Vec<EventKeyBody>,
    /// Voided tickets: refuse them even though their signatures verify.
    pub revoked_ticket_ids: Vec<TicketId>,
    pub ticket_types: Vec<BundleTicketType>,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
}

/// What a scanner needs to verify codes offline (the event's staff, organizer, admin)
#[utoipa::path(get, path = "/events/{event_id}/checkin/offline-bundle", tag = "check-in", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, body = OfflineBundleBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_offline_bundle(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
) -> ApiResult<Json<OfflineBundleBody>> {
    let id = path_id(&event_id, "event")?;
    let b = s.app.offline_bundle(&who, id).await?;
    Ok(Json(OfflineBundleBody {
        event_id: b.event_id,
        event_name: b.event_name,
        start_time: b.start_time,
        end_time: b.end_time,
        version: b.version,
        keys: b.keys.into_iter().map(EventKeyBody::from).collect(),
        revoked_ticket_ids: b.revoked,
        ticket_types: b
            .ticket_types
            .into_iter()
            .map(|(ticket_type_id, name, allow_reentry)| BundleTicketType {
                ticket_type_id,
                name,
                allow_reentry,
            })
            .collect(),
        generated_at: b.generated_at,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayCount {
    pub day: i32,
    pub entered: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GateCount {
    pub gate: Option<String>,
    pub entries: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypeCount {
    pub ticket_type_id: Option<TicketTypeId>,
    pub entered_today: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinSummaryBody {
    pub event_id: EventId,
    /// Today's event day.
    pub day: i32,
    pub inside_now: i64,
    pub entered_today: i64,
    pub per_day: Vec<DayCount>,
    pub per_gate: Vec<GateCount>,
    pub per_ticket_type: Vec<TypeCount>,
}

/// The door's counts (the event's staff, organizer, admin)
#[utoipa::path(get, path = "/events/{event_id}/checkin/summary", tag = "check-in", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, body = CheckinSummaryBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_checkin_summary(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
) -> ApiResult<Json<CheckinSummaryBody>> {
    let id = path_id(&event_id, "event")?;
    let (day, c) = s.app.checkin_summary(&who, id).await?;
    Ok(Json(CheckinSummaryBody {
        event_id: id,
        day,
        inside_now: c.inside_now,
        entered_today: c.entered_today,
        per_day: c.per_day.into_iter().map(|(day, entered)| DayCount { day, entered }).collect(),
        per_gate: c.per_gate.into_iter().map(|(gate, entries)| GateCount { gate, entries }).collect(),
        per_ticket_type: c
            .per_ticket_type
            .into_iter()
            .map(|(ticket_type_id, entered_today)| TypeCount { ticket_type_id, entered_today })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffBody {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffListBody {
    pub items: Vec<StaffBody>,
}

impl From<StaffMember> for StaffBody {
    fn from(r: StaffMember) -> Self {
        StaffBody { user_id: r.user_id, name: r.name, email: r.email, created_at: r.created_at }
    }
}

/// An event's door staff (its organizer or an admin)
#[utoipa::path(get, path = "/events/{event_id}/staff", tag = "check-in", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, body = StaffListBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_event_staff(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
) -> ApiResult<Json<StaffListBody>> {
    let id = path_id(&event_id, "event")?;
    let items = s.app.event_staff(&who, id).await?.into_iter().map(StaffBody::from).collect();
    Ok(Json(StaffListBody { items }))
}

/// Make a staff account door staff for an event (its organizer or an admin)
#[utoipa::path(put, path = "/events/{event_id}/staff/{user_id}", tag = "check-in", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"), ("user_id" = String, Path, description = "A staff account")),
    responses(
        (status = 201, description = "Assigned"),
        (status = 200, description = "Already assigned"),
        (status = 400, description = "Not a staff account", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_event_staff(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((event_id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = path_id(&event_id, "event")?;
    let user = path_id(&user_id, "user")?;
    let added = s.app.add_event_staff(&who, id, user).await?;
    Ok(if added { StatusCode::CREATED } else { StatusCode::OK })
}

/// Remove a member of an event's door staff (its organizer or an admin)
#[utoipa::path(delete, path = "/events/{event_id}/staff/{user_id}", tag = "check-in", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"), ("user_id" = String, Path, description = "A staff account")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_event_staff(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((event_id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = path_id(&event_id, "event")?;
    let user = path_id(&user_id, "staff member")?;
    s.app.remove_event_staff(&who, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
