//! Shared counters and secrets: rate-limit windows and server-generated keys live in the database
//! so every instance (and every Lambda) sees the same values.

use crate::{Result, Store, affected, on_db};

impl Store {
    /// Counts one hit in `bucket` for the window starting at `window_start` (epoch seconds) and
    /// returns the hits so far in that window. One upsert: racing hits are all counted.
    pub async fn rate_limit_hit(&self, bucket: &str, window_start: i64) -> Result<i64> {
        let hits: i32 = on_db!(self, write, |p| {
            sqlx::query_scalar(
                "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
                 ON CONFLICT (bucket) DO UPDATE SET
                   hits = CASE WHEN rate_limits.window_start = excluded.window_start
                               THEN rate_limits.hits + 1 ELSE 1 END,
                   window_start = excluded.window_start
                 RETURNING hits",
            )
            .bind(bucket)
            .bind(window_start)
            .fetch_one(p)
            .await
        })?;
        Ok(i64::from(hits))
    }

    /// Returns the secret stored under `name`, storing `candidate` first if there is none.
    /// Racing instances all end up with the same value (the first insert wins).
    pub async fn secret_or_insert(&self, name: &str, candidate: &str) -> Result<String> {
        on_db!(self, write, |p| {
            sqlx::query("INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(candidate)
                .execute(p)
                .await
                .map(affected)
        })?;
        Ok(on_db!(self, write, |p| {
            sqlx::query_scalar("SELECT value FROM app_secrets WHERE name = $1").bind(name).fetch_one(p).await
        })?)
    }
}

impl Store {
    /// Binds `$2` before `$1` in the text: proves numbered placeholders bind by number on both
    /// drivers (SQLite would otherwise number parameters by first appearance).
    #[doc(hidden)]
    pub async fn placeholder_probe(&self, one: &str, two: &str) -> Result<String> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar("SELECT $2 || '|' || $1").bind(one).bind(two).fetch_one(p).await
        })?)
    }
}
