//! `/api-keys`: keys for servers, used as `Authorization: Bearer tsk_…`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tessera_domain::id::ApiKeyId;
use tessera_domain::records::ApiKey;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_api_key, list_api_keys)).routes(routes!(delete_api_key))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyRequest {
    /// What the key is for, e.g. "box office server".
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub api_key_id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewApiKeyBody {
    /// The secret key: shown only in this response.
    pub key: String,
    #[serde(flatten)]
    pub api_key: ApiKeyBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyBody>,
}

impl From<ApiKey> for ApiKeyBody {
    fn from(r: ApiKey) -> Self {
        ApiKeyBody { api_key_id: r.api_key_id, name: r.name, prefix: r.prefix, created_at: r.created_at }
    }
}

/// Create an API key (the secret is shown once)
#[utoipa::path(post, path = "/api-keys", tag = "accounts", security(("bearer" = [])), request_body = ApiKeyRequest,
    responses(
        (status = 201, body = NewApiKeyBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_api_key(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<ApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<NewApiKeyBody>)> {
    let k = s.app.create_api_key(&who, b.name.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(NewApiKeyBody { key: k.key, api_key: k.row.into() })))
}

/// The caller's API keys
#[utoipa::path(get, path = "/api-keys", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, body = ApiKeyList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_api_keys(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<ApiKeyList>> {
    let items = s.app.list_api_keys(&who).await?.into_iter().map(ApiKeyBody::from).collect();
    Ok(Json(ApiKeyList { items }))
}

/// Revoke one of the caller's API keys
#[utoipa::path(delete, path = "/api-keys/{api_key_id}", tag = "accounts", security(("bearer" = [])),
    params(("api_key_id" = String, Path, description = "API key id (UUID)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_api_key(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(api_key_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&api_key_id, "api key")?;
    s.app.revoke_api_key(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
