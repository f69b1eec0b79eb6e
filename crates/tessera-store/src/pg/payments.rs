//! Payments on PostgreSQL (the rules: payments.rs).

use tessera_domain::id::{EventId, TicketTypeId};
use tessera_domain::records::{PaidRows, PayInput};
use uuid::Uuid;

use crate::hot_path::PaymentPath;
use crate::jobs::{ENQUEUE_TICKET_MAIL, ticket_mail_payload};
use crate::payments::{
    COMPLETE_RESERVATION, DEBIT, FINISH_ADMISSION, INSERT_IDEMPOTENCY, INSERT_PAYMENT, INSERT_PURCHASE,
    SELL_PLACES, Stop, paid_rows, tickets_insert,
};
use crate::wallet::INSERT_LEDGER;
use crate::{Result, WritePool, affected, bind_args};

use super::Pg;

impl PaymentPath for Pg<'_> {
    async fn pay(&self, i: &PayInput) -> Result<std::result::Result<PaidRows, Stop>> {
        let mut tx = self.pool.begin_write().await?;
        let r = async {
            if let Some((key, hash)) = &i.idempotency {
                // Racing retries with the same key wait here for the first to finish.
                let n = sqlx::query(INSERT_IDEMPOTENCY)
                    .bind(i.user_id)
                    .bind(key.clone())
                    .bind(hash.clone())
                    .bind(i.payment_id)
                    .bind(i.now)
                    .execute(&mut *tx)
                    .await
                    .map(affected)?;
                if n != 1 {
                    return Ok::<_, sqlx::Error>(Err(Stop::Key));
                }
            }
            let res: Option<(EventId, i32, i64, Option<TicketTypeId>)> = sqlx::query_as(COMPLETE_RESERVATION)
                .bind(i.now)
                .bind(i.reservation_id)
                .bind(i.user_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((event_id, quantity, amount, ticket_type_id)) = res else {
                return Ok(Err(Stop::Reservation));
            };
            let balance: Option<i64> =
                sqlx::query_scalar(DEBIT).bind(amount).bind(i.user_id).fetch_optional(&mut *tx).await?;
            let Some(balance) = balance else { return Ok(Err(Stop::Balance(amount))) };
            let places: Vec<(i32, Option<TicketTypeId>)> =
                sqlx::query_as(SELL_PLACES).bind(i.now).bind(i.reservation_id).fetch_all(&mut *tx).await?;
            if places.len() != usize::try_from(quantity).unwrap_or(0) {
                // Cannot happen while holds last until the deadline checked above;
                // refuse rather than sell fewer places than were paid for.
                return Ok(Err(Stop::Reservation));
            }
            let rows = paid_rows(i, event_id, quantity, amount, ticket_type_id, places);
            sqlx::query(INSERT_LEDGER)
                .bind(Uuid::now_v7())
                .bind(i.user_id)
                .bind(-amount)
                .bind(balance)
                .bind("payment")
                .bind(Some(i.reservation_id))
                .bind(i.now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_PAYMENT)
                .bind(i.payment_id)
                .bind(i.reservation_id)
                .bind(i.user_id)
                .bind(amount)
                .bind(i.method.clone())
                .bind(i.now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_PURCHASE)
                .bind(i.purchase_id)
                .bind(i.user_id)
                .bind(event_id)
                .bind(i.now)
                .bind(quantity)
                .bind(amount)
                .bind(i.reservation_id)
                .execute(&mut *tx)
                .await?;
            if let Some(ins) = tickets_insert(&rows.tickets) {
                bind_args!(sqlx::query(sqlx::AssertSqlSafe(ins.text.clone())), ins.args)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(FINISH_ADMISSION)
                .bind(i.now)
                .bind(event_id)
                .bind(i.user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(ENQUEUE_TICKET_MAIL)
                .bind(Uuid::now_v7())
                .bind(ticket_mail_payload(i.purchase_id, None))
                .bind(i.now)
                .execute(&mut *tx)
                .await?;
            Ok(Ok(rows))
        }
        .await?;
        if r.is_ok() {
            tx.commit().await?;
        }
        Ok(r)
    }
}
