//! The wallet balance: an append-only ledger and a cached balance that only
//! conditional updates change, so it can never go below zero or above the cap.

use tessera_domain::id::UserId;
use tessera_domain::records::{ChargeOutcome, LedgerEntry, TopUp};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Result, Store, WritePool, affected, on_db};

/// Appends a ledger entry (inside the caller's transaction); `$4` is the balance just written.
pub(crate) const INSERT_LEDGER: &str =
    "INSERT INTO balance_ledger (entry_id, user_id, amount, balance_after, kind, reference_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Store {
    /// The cached balance; `None` for an unknown user.
    pub async fn balance(&self, user_id: UserId) -> Result<Option<i64>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar("SELECT balance FROM users WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(p)
                .await
        })?)
    }

    /// Adds `amount` to the balance unless that would pass `cap`. Balance, ledger and the
    /// Idempotency-Key record (when the client sent a key: `(key, request hash)`) change in one
    /// transaction, so a retried top-up is applied once and answered as the first was.
    pub async fn charge(&self, top_up: TopUp) -> Result<ChargeOutcome> {
        let TopUp { user_id, amount, cap, entry_id, idempotency, now } = top_up;
        let outcome = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                if let Some((key, hash)) = &idempotency {
                    let n = sqlx::query(
                        "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, payment_id, created_at, kind)
                         VALUES ($1, $2, $3, $4, $5, 'charge') ON CONFLICT (user_id, idem_key) DO NOTHING",
                    )
                    .bind(user_id)
                    .bind(key)
                    .bind(hash)
                    .bind(entry_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map(affected)?;
                    if n != 1 {
                        return Ok::<_, sqlx::Error>(None);
                    }
                }
                let new: Option<i64> = sqlx::query_scalar(
                    "UPDATE users SET balance = balance + $1 WHERE user_id = $2 AND balance + $1 <= $3 RETURNING balance",
                )
                .bind(amount)
                .bind(user_id)
                .bind(cap)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(new) = new else { return Ok(Some(ChargeOutcome::Capped)) };
                sqlx::query(INSERT_LEDGER)
                    .bind(entry_id)
                    .bind(user_id)
                    .bind(amount)
                    .bind(new)
                    .bind("charge")
                    .bind(None::<Uuid>)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await.map(|_| Some(ChargeOutcome::Charged(new)))
            }
            .await
        })?;
        if let Some(done) = outcome {
            return Ok(done);
        }
        // The key was used before: the same top-up answers its first balance again.
        let (key, hash) = idempotency.unwrap_or_default();
        let first: Option<(String, String, Option<i64>)> = on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT k.request_hash, k.kind, l.balance_after FROM idempotency_keys k
                 LEFT JOIN balance_ledger l ON l.entry_id = k.payment_id
                 WHERE k.user_id = $1 AND k.idem_key = $2",
            )
            .bind(user_id)
            .bind(&key)
            .fetch_optional(p)
            .await
        })?;
        Ok(match first {
            Some((h, kind, Some(balance))) if h == hash && kind == "charge" => {
                ChargeOutcome::Replayed(balance)
            }
            _ => ChargeOutcome::KeyReused,
        })
    }

    /// A page of the ledger, newest first, before the cursor (created_at, entry_id).
    pub async fn ledger(
        &self,
        user_id: UserId,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<LedgerEntry>> {
        let (t, id) = before.unwrap_or((time::macros::datetime!(9999-12-31 23:59:59 UTC), Uuid::max()));
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT entry_id, amount, balance_after, kind, reference_id, created_at FROM balance_ledger
                 WHERE user_id = $1 AND (created_at < $2 OR (created_at = $2 AND entry_id < $3))
                 ORDER BY created_at DESC, entry_id DESC LIMIT $4",
            )
            .bind(user_id)
            .bind(t)
            .bind(id)
            .bind(limit)
            .fetch_all(p)
            .await
        })?)
    }

    /// The ledger's sum for a user (it must equal the balance).
    pub async fn ledger_sum(&self, user_id: UserId) -> Result<i64> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM balance_ledger WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_one(p)
            .await
        })?)
    }
}
