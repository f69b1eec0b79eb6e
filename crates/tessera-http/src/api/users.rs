//! `/users*`: the caller, one user, the admin's list, profile changes.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::accounts::PatchUserInput;

use super::{Paged, UserBody, double_option};
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me))
        .routes(routes!(list_users))
        .routes(routes!(get_user, patch_user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// attendee, organizer, staff or admin.
    pub role: Option<String>,
    /// Text in the name or e-mail.
    pub q: Option<String>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPatchRequest {
    pub name: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone_number: Option<Option<String>>,
    pub password: Option<String>,
    /// Required to change your own password.
    pub current_password: Option<String>,
    /// Admins only.
    pub role: Option<String>,
    /// Admins only: true disables the account (every session ends, sign-in is refused), false
    /// enables it again.
    pub disabled: Option<bool>,
}

/// A changed account, and what the change did to its sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatchedUserBody {
    #[serde(flatten)]
    pub user: UserBody,
    /// True when the change ended every session of the account (a new password, a reset, a
    /// disabling): its refresh tokens are revoked and its access tokens stop working.
    pub sessions_ended: bool,
    /// Present when sessions ended: API keys are separate credentials and keep working.
    pub notice: Option<String>,
}

/// The caller's account
#[utoipa::path(get, path = "/users/me", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, body = UserBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_me(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<UserBody>> {
    Ok(Json(s.app.get_user(&who, who.user_id).await?.into()))
}

/// One account (yourself, or anyone for admins)
#[utoipa::path(get, path = "/users/{user_id}", tag = "accounts", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "User id (UUID)")),
    responses(
        (status = 200, body = UserBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown, or not yours", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_user(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(user_id): Path<String>,
) -> ApiResult<Json<UserBody>> {
    let id = path_id(&user_id, "user")?;
    Ok(Json(s.app.get_user(&who, id).await?.into()))
}

/// List accounts (admins)
#[utoipa::path(get, path = "/users", tag = "accounts", security(("bearer" = [])), params(UserListQuery),
    responses(
        (status = 200, body = Paged<UserBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<UserListQuery>,
) -> ApiResult<Json<Paged<UserBody>>> {
    let page =
        s.app.list_users(&who, q.role.as_deref(), q.q.as_deref(), q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Paged::from_page(page, UserBody::from)))
}

/// Change an account (yourself; admins anyone, including the role)
#[utoipa::path(patch, path = "/users/{user_id}", tag = "accounts", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "User id (UUID)")),
    request_body = UserPatchRequest,
    responses(
        (status = 200, body = PatchedUserBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role change or disabling by a non-admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_user(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(user_id): Path<String>,
    ApiJson(b): ApiJson<UserPatchRequest>,
) -> ApiResult<Json<PatchedUserBody>> {
    let id = path_id(&user_id, "user")?;
    let input = PatchUserInput {
        name: b.name,
        phone_number: b.phone_number,
        password: b.password,
        current_password: b.current_password,
        role: b.role,
        disabled: b.disabled,
    };
    let (user, outcome) = s.app.patch_user(&who, id, input).await?;
    Ok(Json(PatchedUserBody {
        user: user.into(),
        sessions_ended: outcome.sessions_ended,
        notice: outcome.sessions_ended.then(|| {
            "every session of this account ended; its API keys are separate credentials and still \
             work (revoke them with DELETE /api-keys/{api_key_id})"
                .to_string()
        }),
    }))
}
