//! Applications for ticket types sold by approval: `/events/{event_id}/ticket-types/{id}/form`,
//! `/events/{event_id}/applications`, `/applications/{id}` with approve and reject.

use std::collections::BTreeMap;
use tessera_domain::id::{ApplicationId, EventId, PurchaseId, TicketTypeId, UserId};
use tessera_domain::records::Application;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::applications::{ApplyInput, BatchOutcome};
use tessera_app::domain::application::{Answer, FormField};

use super::Paged;
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_application_form, set_application_form))
        .routes(routes!(create_application, list_applications))
        .routes(routes!(approve_applications))
        .routes(routes!(get_application))
        .routes(routes!(approve_application))
        .routes(routes!(reject_application))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FormBody {
    /// `[{name, label, type: text|email|number|choice, required, options, min, max, max_length}]`
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<FormField>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FormRequest {
    #[schema(value_type = Vec<Object>)]
    pub fields: Option<Vec<FormField>>,
}

fn ids(event_id: &str, ticket_type_id: &str) -> Result<(EventId, TicketTypeId), crate::error::ApiError> {
    Ok((path_id(event_id, "event")?, path_id(ticket_type_id, "ticket type")?))
}

/// A ticket type's application form (anyone)
#[utoipa::path(get, path = "/events/{event_id}/ticket-types/{ticket_type_id}/form", tag = "applications",
    params(("event_id" = String, Path, description = "Event id (UUID)"), ("ticket_type_id" = String, Path, description = "Ticket type id (UUID)")),
    responses(
        (status = 200, body = FormBody),
        (status = 400, description = "Not a ticket type sold by application", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_application_form(
    State(s): State<AppState>,
    Path((event_id, tt)): Path<(String, String)>,
) -> ApiResult<Json<FormBody>> {
    let (ev, tt) = ids(&event_id, &tt)?;
    Ok(Json(FormBody { fields: s.app.application_form(ev, tt).await? }))
}

/// Define a ticket type's application form (the event's organizer or an admin)
#[utoipa::path(put, path = "/events/{event_id}/ticket-types/{ticket_type_id}/form", tag = "applications", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"), ("ticket_type_id" = String, Path, description = "Ticket type id (UUID)")),
    request_body = FormRequest,
    responses(
        (status = 200, body = FormBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_application_form(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path((event_id, tt)): Path<(String, String)>,
    ApiJson(b): ApiJson<FormRequest>,
) -> ApiResult<Json<FormBody>> {
    let (ev, tt) = ids(&event_id, &tt)?;
    let fields = b.fields.ok_or_else(|| crate::error::ApiError::field("fields", "is required"))?;
    Ok(Json(FormBody { fields: s.app.set_application_form(&who, ev, tt, fields).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApplicationRequest {
    pub ticket_type_id: Option<TicketTypeId>,
    /// The form's answers by field name: strings, or numbers for number fields.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, Answer>,
    /// One ticket per name, up to the ticket type's per-person limit.
    pub guest_names: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationBody {
    pub application_id: ApplicationId,
    pub event_id: EventId,
    pub ticket_type_id: TicketTypeId,
    pub user_id: UserId,
    #[schema(value_type = Object)]
    pub answers: serde_json::Value,
    pub guest_names: Vec<String>,
    /// pending, approved or rejected.
    pub status: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub decided_by: Option<UserId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    /// The tickets' purchase, once approved.
    pub purchase_id: Option<PurchaseId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Application> for ApplicationBody {
    fn from(a: Application) -> Self {
        ApplicationBody {
            application_id: a.application_id,
            event_id: a.event_id,
            ticket_type_id: a.ticket_type_id,
            user_id: a.user_id,
            answers: serde_json::from_str(&a.answers).unwrap_or_default(),
            guest_names: serde_json::from_str(&a.guest_names).unwrap_or_default(),
            status: a.status.to_string(),
            reason: a.reason,
            decided_by: a.decided_by,
            decided_at: a.decided_at,
            purchase_id: a.purchase_id,
            created_at: a.created_at,
        }
    }
}

/// Apply for tickets of a ticket type sold by approval
///
/// One ticket per guest name (up to the per-person limit); one pending or approved application
/// per person and ticket type.
#[utoipa::path(post, path = "/events/{event_id}/applications", tag = "applications", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    request_body = ApplicationRequest,
    responses(
        (status = 201, body = ApplicationBody),
        (status = 400, description = "A wrong answer (named answers.<field>), too many or repeated guest names", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not taking applications now", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already applied", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_application(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    ApiJson(b): ApiJson<ApplicationRequest>,
) -> ApiResult<(StatusCode, Json<ApplicationBody>)> {
    let ev = path_id(&event_id, "event")?;
    let input =
        ApplyInput { ticket_type_id: b.ticket_type_id, answers: b.answers, guest_names: b.guest_names };
    Ok((StatusCode::CREATED, Json(s.app.apply(&who, ev, input).await?.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationsQuery {
    /// pending, approved or rejected.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// An event's applications, oldest first (its organizer or an admin)
#[utoipa::path(get, path = "/events/{event_id}/applications", tag = "applications", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"), ApplicationsQuery),
    responses(
        (status = 200, body = Paged<ApplicationBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_applications(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    ApiQuery(q): ApiQuery<ApplicationsQuery>,
) -> ApiResult<Json<Paged<ApplicationBody>>> {
    let ev = path_id(&event_id, "event")?;
    let page = s.app.event_applications(&who, ev, q.status.as_deref(), q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Paged::from_page(page, ApplicationBody::from)))
}

/// An application (its applicant, the event's organizer, an admin)
#[utoipa::path(get, path = "/applications/{application_id}", tag = "applications", security(("bearer" = [])),
    params(("application_id" = String, Path, description = "Application id (UUID)")),
    responses(
        (status = 200, body = ApplicationBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_application(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationBody>> {
    let id = path_id(&id, "application")?;
    Ok(Json(s.app.application(&who, id).await?.into()))
}

/// Approve an application: its tickets are issued and e-mailed (the event's organizer or an admin)
#[utoipa::path(post, path = "/applications/{application_id}/approve", tag = "applications", security(("bearer" = [])),
    params(("application_id" = String, Path, description = "Application id (UUID)")),
    responses(
        (status = 200, body = ApplicationBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, or not enough places left", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve_application(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationBody>> {
    let id = path_id(&id, "application")?;
    Ok(Json(s.app.approve_application(&who, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectRequest {
    /// Told to the applicant (1-500 characters).
    pub reason: Option<String>,
}

/// Reject an application with a reason, which is e-mailed (the event's organizer or an admin)
#[utoipa::path(post, path = "/applications/{application_id}/reject", tag = "applications", security(("bearer" = [])),
    params(("application_id" = String, Path, description = "Application id (UUID)")),
    request_body = RejectRequest,
    responses(
        (status = 200, body = ApplicationBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject_application(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RejectRequest>,
) -> ApiResult<Json<ApplicationBody>> {
    let id = path_id(&id, "application")?;
    Ok(Json(s.app.reject_application(&who, id, b.reason.as_deref()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchApproveRequest {
    /// 1 to 500 applications of this event.
    pub application_ids: Option<Vec<ApplicationId>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResultBody {
    pub application_id: ApplicationId,
    /// approved, or not_found, not_pending, sold_out.
    pub result: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchApproveBody {
    pub results: Vec<BatchResultBody>,
    pub approved: usize,
}

/// Approve many applications at once (the event's organizer or an admin)
#[utoipa::path(post, path = "/events/{event_id}/applications/approve", tag = "applications", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    request_body = BatchApproveRequest,
    responses(
        (status = 200, body = BatchApproveBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve_applications(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    ApiJson(b): ApiJson<BatchApproveRequest>,
) -> ApiResult<Json<BatchApproveBody>> {
    let ev = path_id(&event_id, "event")?;
    let ids =
        b.application_ids.ok_or_else(|| crate::error::ApiError::field("application_ids", "is required"))?;
    let results = s.app.approve_applications(&who, ev, &ids).await?;
    let approved = results.iter().filter(|r| r.result == BatchOutcome::Approved).count();
    let results = results
        .into_iter()
        .map(|r| BatchResultBody { application_id: r.application_id, result: r.result.as_str().into() })
        .collect();
    Ok(Json(BatchApproveBody { results, approved }))
}
