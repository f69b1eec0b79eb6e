//! Every error leaves as RFC 9457 `application/problem+json`, mapped from [`AppError`] in one place.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use tessera_app::AppError;
use tessera_app::domain::{FieldError, ValidationErrors};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One wrong field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`/problems/{code}`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case code for programs.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// The request id, for 5xx answers (so a report can be matched to the log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Problem-specific members (RFC 9457 extensions), e.g. when and where a ticket was first
    /// used.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// An HTTP error: status, code, detail, field errors and optional extra headers.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// Adds an extension member to the problem document.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Ok(v) = serde_json::to_value(value) {
            self.extensions.insert(key.to_string(), v);
        }
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        ApiError { errors, ..ApiError::new(StatusCode::BAD_REQUEST, code, detail) }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let v = ValidationErrors::single(field, message);
        ApiError::bad_request("validation_failed", v.to_string(), v.0)
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(v) => ApiError::bad_request("validation_failed", v.to_string(), v.0),
            AppError::Unauthorized(m) => ApiError::unauthorized(m),
            AppError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::Conflict { code, detail } => ApiError::new(StatusCode::CONFLICT, code, detail),
            AppError::SeatsTaken { taken, available_nearby } => {
                let list: Vec<String> = taken.iter().map(i64::to_string).collect();
                ApiError::new(
                    StatusCode::CONFLICT,
                    "seats_taken",
                    format!("seats {} are not available", list.join(", ")),
                )
                .with("taken", taken)
                .with("available_nearby", available_nearby)
            }
            AppError::PaymentRequired(m) => {
                ApiError::new(StatusCode::PAYMENT_REQUIRED, "insufficient_balance", m)
            }
            AppError::Gone(m) => ApiError::new(StatusCode::GONE, "hold_expired", m),
            AppError::TicketVoid(m) => ApiError::new(StatusCode::GONE, "ticket_void", m),
            AppError::TooLarge { limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the upload is larger than the limit of {limit} bytes"),
            ),
            AppError::Unsupported(m) => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_content", m)
            }
            AppError::RateLimited { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many attempts; try again later",
                )
            },
            AppError::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                ApiError {
                    retry_after: Some(UNAVAILABLE_RETRY_SECS),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the service is temporarily unavailable",
                    )
                }
            }
            AppError::DurabilityUnknown(cause) => {
                tracing::error!(%cause, "a committed write could not be confirmed on disk; writes are stopped");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "durability_unknown",
                    "the change was made but could not be confirmed on disk: do not retry it; \
                     read its state (e.g. the balance or the payment) before doing anything else",
                )
            }
            AppError::Internal(cause) => {
                tracing::error!(cause = %cause.chain(), at = %cause.at(), "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an unexpected error occurred")
            }
        }
    }
}

/// Seconds a client is asked to wait after a 503 for the database.
pub const UNAVAILABLE_RETRY_SECS: u64 = 2;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_string();
        let body = Problem {
            kind: format!("/problems/{}", self.code),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_string(),
            errors: self
                .errors
                .into_iter()
                .map(|f| ProblemField { field: f.field, message: f.message })
                .collect(),
            request_id: None,
            extensions: self.extensions,
        };
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
