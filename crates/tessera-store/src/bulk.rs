//! Bulk provisioning: many accounts at once, each with an opening wallet balance recorded in the
//! ledger (imports from another system, load tests). Chunked multi-row INSERTs in one transaction
//! per chunk, because one statement per account would cost a commit each.

use tessera_domain::records::User;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::query::{Arg, Sql};
use crate::{Result, Store, StoreError, WritePool, bind_args, on_db};

/// Accounts per statement: 9 parameters each keeps a chunk far below both drivers' limits.
const CHUNK: usize = 500;

impl Store {
    /// Inserts `users` (all new e-mails) and, when `opening_balance` > 0, credits each with it as
    /// a `charge` ledger entry (a negative one is refused by the balance CHECK), so the cached balance equals the ledger as everywhere else.
    pub async fn provision_users(
        &self,
        users: &[User],
        opening_balance: i64,
        now: OffsetDateTime,
    ) -> Result<u64> {
        let mut added = 0;
        for chunk in users.chunks(CHUNK) {
            let mut ins = Sql::new(
                "INSERT INTO users (user_id, name, email, password_hash, role, phone_number, balance, created_at, updated_at) VALUES ",
            );
            let mut ledger = Sql::new(
                "INSERT INTO balance_ledger (entry_id, user_id, amount, balance_after, kind, reference_id, created_at) VALUES ",
            );
            for (i, u) in chunk.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let row = [
                    ins.arg(Arg::id(u.user_id)),
                    ins.arg(Arg::Text(u.name.clone())),
                    ins.arg(Arg::Text(u.email.clone())),
                    ins.arg(Arg::Text(u.password_hash.clone())),
                    ins.arg(Arg::Text(u.role.as_str().into())),
                    ins.arg(Arg::Int(opening_balance)),
                    ins.arg(Arg::Ts(u.created_at)),
                    ins.arg(Arg::Ts(u.updated_at)),
                ];
                ins.push(&format!(
                    "{sep}({}, {}, {}, {}, {}, NULL, {}, {}, {})",
                    row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]
                ));
                let row = [
                    ledger.arg(Arg::id(Uuid::now_v7())),
                    ledger.arg(Arg::id(u.user_id)),
                    ledger.arg(Arg::Int(opening_balance)),
                    ledger.arg(Arg::Ts(now)),
                ];
                ledger.push(&format!(
                    "{sep}({}, {}, {}, {}, 'charge', NULL, {})",
                    row[0], row[1], row[2], row[2], row[3]
                ));
            }
            let n = on_db!(self, write, |p| {
                async {
                    let mut tx = p.begin_write().await?;
                    let n = bind_args!(sqlx::query(sqlx::AssertSqlSafe(ins.text.clone())), ins.args)
                        .execute(&mut *tx)
                        .await
                        .map(crate::affected)?;
                    if opening_balance > 0 {
                        bind_args!(sqlx::query(sqlx::AssertSqlSafe(ledger.text.clone())), ledger.args)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await.map(|_| n)
                }
                .await
            })
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict("email".into()),
                other => other,
            })?;
            added += n;
        }
        Ok(added)
    }
}
