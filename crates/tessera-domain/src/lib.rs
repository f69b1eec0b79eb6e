//! Tessera's pure rules and types: ids, money, time, roles, and validated inputs.
//!
//! Nothing here does I/O: request bodies become these types through fallible constructors at the
//! edge ("parse, don't validate"), so past the edge a value that exists is valid.

pub mod application;
pub mod booking;
pub mod cause;
pub mod chat;
pub mod checkin;
pub mod clock;
pub mod event;
pub mod files;
pub mod id;
pub mod jobs;
pub mod key_seal;
pub mod money;
pub mod page;
pub mod queue_pace;
pub mod records;
pub mod role;
mod text_enum;
pub mod ticket_code;
pub mod user;
pub mod validation;

pub use cause::{BoxError, Cause, context};
pub use clock::{check_ts, normalize_ts, parse_ts};
pub use money::Money;
pub use role::Role;
pub use validation::{FieldError, ValidationErrors};

/// Business outcomes that are not bugs: the HTTP layer maps each to a status code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    #[error("invalid input")]
    Invalid(ValidationErrors),
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
}

impl From<ValidationErrors> for DomainError {
    fn from(e: ValidationErrors) -> Self {
        DomainError::Invalid(e)
    }
}
