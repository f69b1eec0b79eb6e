//! Payments on SQLite (the rules: payments.rs).

use rusqlite::types::Value;
use tessera_domain::records::{PaidRows, PayInput};
use uuid::Uuid;

use crate::Result;
use crate::hot_path::PaymentPath;
use crate::jobs::{ENQUEUE_TICKET_MAIL, ticket_mail_payload};
use crate::payments::{
    COMPLETE_RESERVATION, DEBIT, FINISH_ADMISSION, INSERT_IDEMPOTENCY, INSERT_PAYMENT, INSERT_PURCHASE,
    SELL_PLACES, Stop, paid_rows, tickets_insert,
};
use crate::wallet::INSERT_LEDGER;

use super::Sqlite;
use super::values as w;

impl PaymentPath for Sqlite<'_> {
    async fn pay(&self, i: &PayInput) -> Result<std::result::Result<PaidRows, Stop>> {
        let i = i.clone();
        self.writer()?
            .run(move |tx| {
                if let Some((key, hash)) = &i.idempotency {
                    let n = w::exec(
                        tx,
                        INSERT_IDEMPOTENCY,
                        &[
                            w::id(i.user_id),
                            Value::Text(key.clone()),
                            Value::Text(hash.clone()),
                            w::id(i.payment_id),
                            w::ts(i.now),
                        ],
                    )?;
                    if n != 1 {
                        return Ok(Err(Stop::Key));
                    }
                }
                let res = w::rows(
                    tx,
                    COMPLETE_RESERVATION,
                    &[w::ts(i.now), w::id(i.reservation_id), w::id(i.user_id)],
                    |r| {
                        Ok((w::get_id(r, 0)?, r.get::<_, i32>(1)?, r.get::<_, i64>(2)?, w::get_opt_id(r, 3)?))
                    },
                )?;
                let Some(&(event_id, quantity, amount, ticket_type_id)) = res.first() else {
                    return Ok(Err(Stop::Reservation));
                };
                let balance =
                    w::rows(tx, DEBIT, &[Value::Integer(amount), w::id(i.user_id)], |r| r.get::<_, i64>(0))?;
                let Some(&balance) = balance.first() else { return Ok(Err(Stop::Balance(amount))) };
                let places = w::rows(tx, SELL_PLACES, &[w::ts(i.now), w::id(i.reservation_id)], |r| {
                    Ok((r.get::<_, i32>(0)?, w::get_opt_id(r, 1)?))
                })?;
                if places.len() != usize::try_from(quantity).unwrap_or(0) {
                    return Ok(Err(Stop::Reservation));
                }
                let rows = paid_rows(&i, event_id, quantity, amount, ticket_type_id, places);
                w::exec(
                    tx,
                    INSERT_LEDGER,
                    &[
                        w::id(Uuid::now_v7()),
                        w::id(i.user_id),
                        Value::Integer(-amount),
                        Value::Integer(balance),
                        Value::Text("payment".into()),
                        w::id(i.reservation_id),
                        w::ts(i.now),
                    ],
                )?;
                w::exec(
                    tx,
                    INSERT_PAYMENT,
                    &[
                        w::id(i.payment_id),
                        w::id(i.reservation_id),
                        w::id(i.user_id),
                        Value::Integer(amount),
                        Value::Text(i.method.clone()),
                        w::ts(i.now),
                    ],
                )?;
                w::exec(
                    tx,
                    INSERT_PURCHASE,
                    &[
                        w::id(i.purchase_id),
                        w::id(i.user_id),
                        w::id(event_id),
                        w::ts(i.now),
                        Value::Integer(quantity.into()),
                        Value::Integer(amount),
                        w::id(i.reservation_id),
                    ],
                )?;
                if let Some(ins) = tickets_insert(&rows.tickets) {
                    w::exec(tx, &ins.text, &w::values(&ins.args))?;
                }
                w::exec(tx, FINISH_ADMISSION, &[w::ts(i.now), w::id(event_id), w::id(i.user_id)])?;
                w::exec(
                    tx,
                    ENQUEUE_TICKET_MAIL,
                    &[
                        w::id(Uuid::now_v7()),
                        Value::Text(ticket_mail_payload(i.purchase_id, None)),
                        w::ts(i.now),
                    ],
                )?;
                Ok(Ok(rows))
            })
            .await
    }
}
