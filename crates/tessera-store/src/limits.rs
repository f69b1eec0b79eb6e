//! Shared counters and secrets: rate-limit windows and server-generated keys live in the database
//! so every instance (and every Lambda) sees the same values.

use crate::query::{Arg, Sql};
use crate::sqlite::values as w;
use crate::{Db, Result, Store, affected, bind_args, on_db};

impl Store {
    /// Counts one hit in `bucket` for the window starting at `window_start` (epoch seconds) and
    /// returns the hits so far in that window. One upsert: racing hits are all counted.
    pub async fn rate_limit_hit(&self, bucket: &str, window_start: i64) -> Result<i64> {
        Ok(self.rate_limit_hits(&[bucket], window_start).await?.first().copied().unwrap_or(0))
    }

    /// Counts one hit in each of the (distinct) `buckets` with one statement and one commit, and
    /// returns the hits so far, in the order asked.
    pub async fn rate_limit_hits(&self, buckets: &[&str], window_start: i64) -> Result<Vec<i64>> {
        let mut sql = Sql::new("INSERT INTO rate_limits (bucket, window_start, hits) VALUES ");
        let pw = sql.arg(Arg::Int(window_start));
        for (i, b) in buckets.iter().enumerate() {
            let pb = sql.arg(Arg::Text((*b).to_string()));
            sql.push(&format!("{}({pb}, {pw}, 1)", if i == 0 { "" } else { ", " }));
        }
        sql.push(
            " ON CONFLICT (bucket) DO UPDATE SET
               hits = CASE WHEN rate_limits.window_start = excluded.window_start
                           THEN rate_limits.hits + 1 ELSE 1 END,
               window_start = excluded.window_start
             RETURNING bucket, hits",
        );
        let rows: Vec<(String, i64)> = match &self.db {
            Db::Postgres(p) => {
                // Unsynced: a hit lost in a crash harms nobody, and one bucket (an address behind
                // which a crowd joins) is a row every such request updates (`unsynced_pool`).
                let rows: Vec<(String, i32)> =
                    bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.text.clone())), sql.args)
                        .fetch_all(self.unsynced_pool().unwrap_or(p))
                        .await?;
                rows.into_iter().map(|(b, h)| (b, i64::from(h))).collect()
            }
            Db::Sqlite { .. } => {
                let (text, values) = (sql.text, w::values(&sql.args));
                self.sqlite_writer()?
                    .run_ok(move |tx| w::rows(tx, &text, &values, |r| Ok((r.get(0)?, r.get(1)?))))
                    .await?
            }
        };
        Ok(buckets.iter().map(|b| rows.iter().find(|r| r.0 == *b).map(|r| r.1).unwrap_or(0)).collect())
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
