//! Calls and the WebRTC signals relayed between their parties. Every state change is one
//! conditional update whose rows-affected decides it; a ringing call older than the ring cutoff
//! counts as missed in every condition, whether or not it has been marked so yet.

use tessera_domain::id::{CallId, SignalId, UserId};
use tessera_domain::records::{Call, CallChange, CallMove, CallSignal, ChatSignal};
use time::OffsetDateTime;

use crate::{Backend, Result, Store, WritePool, affected, on_db};

const CALL: &str = "c.call_id, c.caller_id, a.name AS caller_name, c.receiver_id, b.name AS receiver_name, c.chat_id, \
     c.status, c.created_at, c.answered_at, c.ended_at, c.ended_by";
const FROM_CALL: &str =
    "calls c JOIN users a ON a.user_id = c.caller_id JOIN users b ON b.user_id = c.receiver_id";
/// A call that can still change: active, or ringing since the cutoff (`$C`).
const LIVE: &str = "(status = 'active' OR (status = 'ringing' AND created_at >= $C))";

/// A call to start.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub call_id: CallId,
    pub caller_id: UserId,
    pub receiver_id: UserId,
    pub chat_id: Option<tessera_domain::id::ChatId>,
    pub created_at: OffsetDateTime,
}

impl Store {
    /// Starts a call unless either person is already in a live one (`false`: busy). Both users'
    /// rows are locked first (PostgreSQL), so two calls racing for the same person cannot both
    /// start; SQLite writes one at a time anyway.
    pub async fn start_call(&self, c: &NewCall, ring_cutoff: OffsetDateTime) -> Result<bool> {
        let backend = self.backend();
        let busy_sql = format!(
            "SELECT COUNT(*) FROM calls WHERE (caller_id IN ($1, $2) OR receiver_id IN ($1, $2)) AND {}",
            LIVE.replace("$C", "$3")
        );
        let started = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                if backend == Backend::Postgres {
                    sqlx::query(
                        "SELECT user_id FROM users WHERE user_id IN ($1, $2) ORDER BY user_id FOR UPDATE",
                    )
                    .bind(c.caller_id)
                    .bind(c.receiver_id)
                    .execute(&mut *tx)
                    .await?;
                }
                let busy: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(busy_sql.clone()))
                    .bind(c.caller_id)
                    .bind(c.receiver_id)
                    .bind(ring_cutoff)
                    .fetch_one(&mut *tx)
                    .await?;
                if busy > 0 {
                    tx.rollback().await?;
                    return Ok::<_, sqlx::Error>(false);
                }
                sqlx::query(
                    "INSERT INTO calls (call_id, caller_id, receiver_id, chat_id, status, created_at)
                     VALUES ($1, $2, $3, $4, 'ringing', $5)",
                )
                .bind(c.call_id)
                .bind(c.caller_id)
                .bind(c.receiver_id)
                .bind(c.chat_id)
                .bind(c.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }
            .await
        })?;
        if started {
            self.tell_parties(c.call_id, c.caller_id, c.receiver_id).await;
        }
        Ok(started)
    }

    pub async fn call(&self, call_id: CallId) -> Result<Option<Call>> {
        let sql = format!("SELECT {CALL} FROM {FROM_CALL} WHERE c.call_id = $1");
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(call_id).fetch_optional(p).await
        })?)
    }

    /// A page of a user's calls, the newest first: before `(created_at, call_id)` of the last.
    pub async fn calls_of(
        &self,
        user_id: UserId,
        before: Option<(OffsetDateTime, CallId)>,
        limit: i64,
    ) -> Result<Vec<Call>> {
        let (t, id) = before.map_or((None, None), |(t, id)| (Some(t), Some(id)));
        let sql = format!(
            "SELECT {CALL} FROM {FROM_CALL} WHERE (c.caller_id = $1 OR c.receiver_id = $1)
               AND ($2 IS NULL OR c.created_at < $2 OR (c.created_at = $2 AND c.call_id < $3))
             ORDER BY c.created_at DESC, c.call_id DESC LIMIT $4"
        );
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .bind(t)
                .bind(id)
                .bind(limit)
                .fetch_all(p)
                .await
        })?)
    }

    /// Moves a call on, if it is in a state that allows the move by `by`.
    pub async fn move_call(
        &self,
        call_id: CallId,
        by: UserId,
        how: CallMove,
        now: OffsetDateTime,
        ring_cutoff: OffsetDateTime,
    ) -> Result<CallChange> {
        let sql = match how {
            CallMove::Answer => {
                "UPDATE calls SET status = 'active', answered_at = $1 WHERE call_id = $2 AND receiver_id = $3
                   AND status = 'ringing' AND created_at >= $4"
            }
            CallMove::Decline => {
                "UPDATE calls SET status = 'declined', ended_at = $1, ended_by = $3 WHERE call_id = $2
                   AND receiver_id = $3 AND status = 'ringing' AND created_at >= $4"
            }
            CallMove::End => {
                "UPDATE calls SET status = 'ended', ended_at = $1, ended_by = $3 WHERE call_id = $2
                   AND (caller_id = $3 OR receiver_id = $3)
                   AND (status = 'active' OR (status = 'ringing' AND created_at >= $4))"
            }
            // Every move binds the same four values; this one has no use for `by` ($3).
            CallMove::Miss => {
                "UPDATE calls SET status = 'missed', ended_at = $1 WHERE call_id = $2 AND $3 IS NOT NULL
                   AND status = 'ringing' AND created_at < $4"
            }
        };
        let ends = how != CallMove::Answer;
        let n = on_db!(self, write, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let n = sqlx::query(sql)
                    .bind(now)
                    .bind(call_id)
                    .bind(by)
                    .bind(ring_cutoff)
                    .execute(&mut *tx)
                    .await
                    .map(affected)?;
                if n > 0 && ends {
                    // Nothing is relayed for a call that has ended.
                    sqlx::query("DELETE FROM call_signals WHERE call_id = $1")
                        .bind(call_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(n)
            }
            .await
        })?;
        if n == 0 {
            return Ok(CallChange::Refused);
        }
        if let Some(c) = self.call(call_id).await? {
            self.tell_parties(call_id, c.caller_id, c.receiver_id).await;
        }
        Ok(CallChange::Changed)
    }

    /// Stores a signal for the other party of a live call (`false`: the call is not live).
    pub async fn relay_signal(&self, s: &CallSignal, ring_cutoff: OffsetDateTime) -> Result<bool> {
        let sql = format!(
            "INSERT INTO call_signals (signal_id, call_id, from_id, to_id, kind, data, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM calls WHERE call_id = $2 AND {})",
            LIVE.replace("$C", "$8")
        );
        let n = on_db!(self, write, |p| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(s.signal_id)
                .bind(s.call_id)
                .bind(s.from_id)
                .bind(s.to_id)
                .bind(s.kind.as_str())
                .bind(&s.data)
                .bind(s.created_at)
                .bind(ring_cutoff)
                .execute(p)
                .await
                .map(affected)
        })?;
        if n > 0 {
            self.after_chat_commit(ChatSignal::Relay { signal_id: s.signal_id, user_id: s.to_id }).await;
        }
        Ok(n > 0)
    }

    pub async fn call_signal(&self, signal_id: SignalId) -> Result<Option<CallSignal>> {
        Ok(on_db!(self, read, |p| {
            sqlx::query_as(
                "SELECT signal_id, call_id, from_id, to_id, kind, data, created_at FROM call_signals WHERE signal_id = $1",
            )
            .bind(signal_id)
            .fetch_optional(p)
            .await
        })?)
    }

    async fn tell_parties(&self, call_id: CallId, caller: UserId, receiver: UserId) {
        for user_id in [caller, receiver] {
            self.after_chat_commit(ChatSignal::Call { call_id, user_id }).await;
        }
    }
}
