//! Uploaded files as stored (their bytes are in the object store under their id).

use time::OffsetDateTime;

use crate::id::{EventId, FileId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct StoredFile {
    pub file_id: FileId,
    pub owner_id: UserId,
    /// An event's image: anyone may read it.
    pub event_id: Option<EventId>,
    pub filename: String,
    /// As sniffed from the content (never as the client declared it).
    pub content_type: String,
    pub size: i64,
    /// Lower-case hex SHA-256 of the content (also its ETag).
    pub sha256: String,
    pub created_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
}
