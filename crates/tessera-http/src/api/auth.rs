//! `/auth/*`: register, log in, refresh, log out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::accounts::Session;
use tessera_app::domain::user::RegisterInput;

use super::UserBody;
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ClientIp};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_user))
        .routes(routes!(login))
        .routes(routes!(refresh_token))
        .routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "Ada Lovelace")]
    pub name: Option<String>,
    #[schema(example = "ada@example.com")]
    pub email: Option<String>,
    /// 8 to 128 characters.
    pub password: Option<String>,
    pub phone_number: Option<String>,
    /// attendee (default) or organizer.
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: UserBody,
}

impl From<Session> for LoginResponse {
    fn from(s: Session) -> Self {
        LoginResponse {
            access_token: s.access_token,
            token_type: "Bearer".into(),
            expires_in: s.expires_in,
            refresh_token: s.refresh_token,
            user: s.user.into(),
        }
    }
}

/// Register an account
#[utoipa::path(post, path = "/auth/register", tag = "accounts", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created", body = UserBody),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail already registered", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register_user(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<UserBody>)> {
    let user = s
        .app
        .register(RegisterInput {
            name: b.name.as_deref(),
            email: b.email.as_deref(),
            password: b.password.as_deref(),
            phone_number: b.phone_number.as_deref(),
            role: b.role.as_deref(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Log in with e-mail and password
///
/// Returns a short-lived access token and a refresh token. Unknown e-mail and wrong password
/// answer the same 401. Attempts are limited per e-mail and per client address (429).
#[utoipa::path(post, path = "/auth/login", tag = "accounts", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Missing fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let session = s.app.login(b.email.as_deref(), b.password.as_deref(), &ip).await?;
    Ok(Json(session.into()))
}

/// Exchange a refresh token for a new token pair
///
/// Each refresh token works once; presenting a spent one revokes the whole session.
#[utoipa::path(post, path = "/auth/refresh", tag = "accounts", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = LoginResponse),
        (status = 400, description = "Missing token", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid, expired or reused token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh_token(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<RefreshRequest>,
) -> ApiResult<Json<LoginResponse>> {
    Ok(Json(s.app.refresh(b.refresh_token.as_deref()).await?.into()))
}

/// Log out: revoke the session of a refresh token
#[utoipa::path(post, path = "/auth/logout", tag = "accounts", request_body = RefreshRequest,
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "Missing token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(State(s): State<AppState>, ApiJson(b): ApiJson<RefreshRequest>) -> ApiResult<StatusCode> {
    s.app.logout(b.refresh_token.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
