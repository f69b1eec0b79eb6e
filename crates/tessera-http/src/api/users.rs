//! `/users*`: the caller, one user, the admin's list, profile changes.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
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
        (status = 200, body = UserBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role change by a non-admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_user(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(user_id): Path<String>,
    ApiJson(b): ApiJson<UserPatchRequest>,
) -> ApiResult<Json<UserBody>> {
    let id = path_id(&user_id, "user")?;
    let input = PatchUserInput {
        name: b.name,
        phone_number: b.phone_number,
        password: b.password,
        current_password: b.current_password,
        role: b.role,
    };
    Ok(Json(s.app.patch_user(&who, id, input).await?.into()))
}
