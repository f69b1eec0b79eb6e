//! Uploaded files' rows (their bytes are in the object store, which the app holds).

use tessera_domain::id::{FileId, UserId};
use tessera_domain::records::StoredFile;
use time::OffsetDateTime;

use crate::chats::IS_MEMBER;
use crate::{Result, Store, affected, on_db};

const COLUMNS: &str =
    "file_id, owner_id, event_id, filename, content_type, size, sha256, created_at, deleted_at";

impl Store {
    pub async fn insert_file(&self, f: &StoredFile) -> Result<()> {
        let sql = format!("INSERT INTO files ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)");
        on_db!(self, write, |p| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(f.file_id)
                .bind(f.owner_id)
                .bind(f.event_id)
                .bind(&f.filename)
                .bind(&f.content_type)
                .bind(f.size)
                .bind(&f.sha256)
                .bind(f.created_at)
                .execute(p)
                .await
                .map(affected)
        })?;
        Ok(())
    }

    /// A file that has not been deleted.
    pub async fn file(&self, file_id: FileId) -> Result<Option<StoredFile>> {
        let sql = format!("SELECT {COLUMNS} FROM files WHERE file_id = $1 AND deleted_at IS NULL");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(file_id).fetch_optional(p).await
        })?)
    }

    /// Whether a user may read a file through what it is attached to: a message (not deleted)
    /// of a chat they are in. (Owners, admins and event images are the app's rule.)
    pub async fn file_shared_with(&self, file_id: FileId, user_id: UserId) -> Result<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM messages m JOIN chats c ON c.chat_id = m.chat_id
                 WHERE m.file_id = $1 AND m.deleted_at IS NULL AND {})",
            IS_MEMBER.replace("$U", "$2")
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(file_id).bind(user_id).fetch_one(p).await
        })?)
    }

    /// Marks a file deleted (`false` if it already was).
    pub async fn delete_file(&self, file_id: FileId, now: OffsetDateTime) -> Result<bool> {
        let n = on_db!(self, write, |p| {
            sqlx::query("UPDATE files SET deleted_at = $1 WHERE file_id = $2 AND deleted_at IS NULL")
                .bind(now)
                .bind(file_id)
                .execute(p)
                .await
                .map(affected)
        })?;
        Ok(n > 0)
    }
}
