//! The festival application paths (`/api/v1/apply`, `/api/v1/login`, `/api/v1/users`), kept for
//! clients written against them and sharing the handlers of `/events/{id}/applications`,
//! `/auth/login` and `/users`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::domain::application::Answer;
use tessera_app::domain::id::{EventId, TicketTypeId};

use super::applications::{ApplicationBody, ApplicationRequest};
use super::auth::{LoginRequest, LoginResponse};
use super::users::UserListQuery;
use super::{Paged, UserBody};
use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(apply_festival))
        .routes(routes!(login_festival))
        .routes(routes!(list_users_festival))
}

/// An application with its event named in the body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FestivalApplicationRequest {
    pub event_id: Option<EventId>,
    pub ticket_type_id: Option<TicketTypeId>,
    /// The form's answers by field name: strings, or numbers for number fields.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, Answer>,
    /// One ticket per name, up to the ticket type's per-person limit.
    pub guest_names: Option<Vec<String>>,
}

/// Apply for tickets (same as POST /events/{event_id}/applications, the event in the body)
#[utoipa::path(post, path = "/api/v1/apply", tag = "festival", security(("bearer" = [])),
    request_body = FestivalApplicationRequest,
    responses(
        (status = 201, body = ApplicationBody),
        (status = 400, description = "No event_id, a wrong answer (named answers.<field>), too many or repeated guest names", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not taking applications now", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already applied", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn apply_festival(
    s: State<AppState>,
    who: Auth,
    ApiJson(b): ApiJson<FestivalApplicationRequest>,
) -> ApiResult<(StatusCode, Json<ApplicationBody>)> {
    let event_id = b.event_id.ok_or_else(|| ApiError::field("event_id", "is required"))?;
    let rest = ApplicationRequest {
        ticket_type_id: b.ticket_type_id,
        answers: b.answers,
        guest_names: b.guest_names,
    };
    super::applications::create_application(s, who, Path(event_id.to_string()), ApiJson(rest)).await
}

/// Log in with e-mail and password (same as POST /auth/login)
#[utoipa::path(post, path = "/api/v1/login", tag = "festival", request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens", body = LoginResponse),
        (status = 400, description = "Missing fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong e-mail or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login_festival(
    s: State<AppState>,
    ip: ClientIp,
    b: ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    super::auth::login(s, ip, b).await
}

/// List users (admins; same as GET /users)
#[utoipa::path(get, path = "/api/v1/users", tag = "festival", security(("bearer" = [])), params(UserListQuery),
    responses(
        (status = 200, body = Paged<UserBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users_festival(
    s: State<AppState>,
    who: Auth,
    q: ApiQuery<UserListQuery>,
) -> ApiResult<Json<Paged<UserBody>>> {
    super::users::list_users(s, who, q).await
}
