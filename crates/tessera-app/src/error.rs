//! The application's error type: business outcomes the HTTP layer maps to status codes.

use tessera_domain::{DomainError, ValidationErrors};
use tessera_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 with field errors.
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// 401: missing or bad credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403: known caller, not allowed.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 404: the named thing does not exist (or the caller may not know it exists).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409 with a stable code.
    #[error("conflict: {detail}")]
    Conflict { code: &'static str, detail: String },
    /// 409 `seats_taken`: the requested seats others hold or bought, and a few available seats
    /// near them to try instead.
    #[error("seats taken: {taken:?}")]
    SeatsTaken { taken: Vec<i64>, available_nearby: Vec<i64> },
    /// 402: the wallet does not cover the amount.
    #[error("payment required: {0}")]
    PaymentRequired(String),
    /// 410: the thing existed but is no longer usable (an expired or released hold).
    #[error("gone: {0}")]
    Gone(&'static str),
    /// 410: the ticket was voided (refunded, cancelled or reissued).
    #[error("void: {0}")]
    TicketVoid(&'static str),
    /// 413: the upload is larger than the limit (bytes).
    #[error("too large: more than {limit} bytes")]
    TooLarge { limit: u64 },
    /// 415: a content Tessera does not accept (the text says which are).
    #[error("unsupported content: {0}")]
    Unsupported(String),
    /// 429: try again after this many seconds.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 503: the database cannot be reached.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500 `durability_unknown`: the change was made but could not be confirmed on disk; the
    /// client must check its state rather than retry.
    #[error("durability unknown: {0}")]
    DurabilityUnknown(String),
    /// 500: a bug or an unexpected failure, kept whole with where it arose; it goes to the log
    /// only.
    #[error("internal error: {0}")]
    Internal(#[source] tessera_domain::Cause),
}

impl AppError {
    /// An unexpected failure; the caller's location is kept with it.
    #[track_caller]
    pub fn internal(e: impl Into<tessera_domain::BoxError>) -> Self {
        AppError::Internal(tessera_domain::Cause::new(e))
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(ValidationErrors::single(field, message))
    }
}

impl From<ValidationErrors> for AppError {
    fn from(e: ValidationErrors) -> Self {
        AppError::Invalid(e)
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(v) => AppError::Invalid(v),
            DomainError::Forbidden(m) => AppError::Forbidden(m),
        }
    }
}

impl From<StoreError> for AppError {
    /// The store's cause is kept as it was, with the place in the store where it arose.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("resource"),
            StoreError::Conflict(c) => AppError::Conflict { code: "conflict", detail: c },
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::DurabilityUnknown(m) => AppError::DurabilityUnknown(m),
            StoreError::Other(m) => AppError::Internal(m),
        }
    }
}
