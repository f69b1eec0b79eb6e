//! Money: the wallet (balance, charges, ledger), paying holds, buying in one call, refunds.

use sha2::{Digest, Sha256};
use tessera_domain::id::{EventId, LedgerEntryId, PaymentId, PurchaseId, ReservationId, TicketTypeId};
use tessera_domain::records::{
    ChargeOutcome, LedgerEntry, PayInput, PayOutcome, Payment, Purchase, RefundOutcome, Ticket, TopUp,
};

use tessera_domain::booking::{MAX_BALANCE_MINOR, buyer_may_refund, parse_charge, parse_idempotency_key};
use tessera_domain::page::parse_limit;

use crate::auth::Principal;
use crate::booking::ReserveInput;
use crate::{App, AppError, Result, cursor};
use tessera_domain::page::{Page, page_cursor};

/// What a payment produced: shown on success and replayed for retries with the same key.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub payment: Payment,
    pub purchase: Purchase,
    pub tickets: Vec<Ticket>,
    /// False when this answer replays an earlier request with the same Idempotency-Key.
    pub created: bool,
}

/// SHA-256 hex of the parts that identify a request, to tell a retry from a different request.
pub fn request_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    pub async fn balance(&self, who: &Principal) -> Result<i64> {
        self.store.balance(who.user_id).await?.ok_or(AppError::Unauthorized("account is gone"))
    }

    /// Adds money to the caller's wallet.
    pub async fn charge(&self, who: &Principal, amount: Option<&str>) -> Result<i64> {
        Ok(self.charge_once(who, amount, None).await?.0)
    }

    /// Adds money to the caller's wallet; with an Idempotency-Key, a retry of the same top-up
    /// is applied once and answers the first balance again (`true`: this was such a replay),
    /// and the key with a different request is 409.
    pub async fn charge_once(
        &self,
        who: &Principal,
        amount: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<(i64, bool)> {
        let amount = parse_charge(amount).map_err(|m| AppError::invalid("amount", m))?;
        let key = idempotency_key
            .map(|k| parse_idempotency_key(k).map_err(|m| AppError::invalid("Idempotency-Key", m)))
            .transpose()?;
        let hash = request_hash(&["charge", &amount.minor().to_string()]);
        let outcome = self
            .store
            .charge(TopUp {
                user_id: who.user_id,
                amount: amount.minor(),
                cap: MAX_BALANCE_MINOR,
                entry_id: LedgerEntryId::new(),
                idempotency: key.map(|k| (k, hash)),
                now: self.now(),
            })
            .await?;
        match outcome {
            ChargeOutcome::Charged(b) => Ok((b, false)),
            ChargeOutcome::Replayed(b) => Ok((b, true)),
            ChargeOutcome::Capped => {
                Err(AppError::invalid("amount", "would take the balance over 99999999.99"))
            }
            ChargeOutcome::KeyReused => Err(AppError::Conflict {
                code: "idempotency_key_reused",
                detail: "this Idempotency-Key was used for a different request".into(),
            }),
        }
    }

    /// The caller's ledger, newest first.
    pub async fn ledger(
        &self,
        who: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<LedgerEntry>> {
        let limit = parse_limit(limit).map_err(|m| AppError::invalid("limit", m))?;
        let before = match cursor {
            Some(c) => {
                let (v, id) = cursor::decode(c, "ledger")?;
                Some((cursor::parse_ts_value(&v)?, id))
            }
            None => None,
        };
        let mut items = self.store.ledger(who.user_id, before, limit + 1).await?;
        let next_cursor = page_cursor(&mut items, limit, |e| {
            cursor::encode("ledger", &cursor::ts_value(e.created_at), e.entry_id)
        });
        Ok(Page { items, next_cursor })
    }

    /// Pays the caller's hold from the wallet. With an Idempotency-Key, a retry of the same
    /// request answers the first payment again and a different request with the key is 409.
    pub async fn pay(
        &self,
        who: &Principal,
        reservation_id: Option<ReservationId>,
        method: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Receipt> {
        let reservation_id =
            reservation_id.ok_or_else(|| AppError::invalid("reservation_id", "is required"))?;
        let method = method.unwrap_or("balance");
        if method != "balance" {
            return Err(AppError::invalid("method", "must be balance (the wallet)"));
        }
        let hash = request_hash(&["pay", &reservation_id.to_string(), method]);
        self.pay_with_hash(who, reservation_id, idempotency_key, hash).await
    }

    async fn pay_with_hash(
        &self,
        who: &Principal,
        reservation_id: ReservationId,
        idempotency_key: Option<&str>,
        hash: String,
    ) -> Result<Receipt> {
        let key = idempotency_key
            .map(|k| parse_idempotency_key(k).map_err(|m| AppError::invalid("Idempotency-Key", m)))
            .transpose()?;
        let input = PayInput {
            payment_id: PaymentId::new(),
            purchase_id: PurchaseId::new(),
            user_id: who.user_id,
            reservation_id,
            method: "balance".into(),
            idempotency: key.map(|k| (k, hash)),
            now: self.now(),
        };
        match self.store.pay_reservation(&input).await? {
            PayOutcome::Paid(rows) => {
                let rows = *rows;
                Ok(Receipt {
                    payment: rows.payment,
                    purchase: rows.purchase,
                    tickets: rows.tickets,
                    created: true,
                })
            }
            PayOutcome::Replayed { payment_id } => self.receipt(payment_id, false).await,
            PayOutcome::KeyReused => Err(AppError::Conflict {
                code: "idempotency_key_reused",
                detail: "this Idempotency-Key was used for a different request".into(),
            }),
            PayOutcome::NotFound => Err(AppError::NotFound("reservation")),
            PayOutcome::AlreadyPaid => Err(AppError::Conflict {
                code: "already_paid",
                detail: "this reservation has already been paid".into(),
            }),
            PayOutcome::Expired => Err(AppError::Gone("the hold expired before payment; reserve again")),
            PayOutcome::Released => Err(AppError::Gone("the hold was released; reserve again")),
            PayOutcome::EventCancelled => Err(AppError::Conflict {
                code: "event_cancelled",
                detail: "the event was cancelled: nothing can be paid for it".into(),
            }),
            PayOutcome::Insufficient { balance, amount } => Err(AppError::PaymentRequired(format!(
                "the balance {} does not cover {}",
                tessera_domain::Money::from_minor(balance),
                tessera_domain::Money::from_minor(amount)
            ))),
        }
    }

    async fn receipt(&self, payment_id: PaymentId, created: bool) -> Result<Receipt> {
        let payment = self.store.payment(payment_id).await?.ok_or(AppError::NotFound("payment"))?;
        let purchase = self
            .store
            .purchase_for_reservation(payment.reservation_id)
            .await?
            .ok_or(AppError::NotFound("purchase"))?;
        let tickets = self.store.tickets_for_purchase(purchase.purchase_id).await?;
        Ok(Receipt { payment, purchase, tickets, created })
    }
}

/// A one-step purchase of general-admission places, as the client asked for it.
#[derive(Debug, Clone, Default)]
pub struct BuyNow {
    pub ticket_type_id: Option<TicketTypeId>,
    pub quantity: Option<i64>,
    pub idempotency_key: Option<String>,
    /// The waiting-room admission, when the event has a waiting room.
    pub queue_token: Option<String>,
}

impl App {
    /// Holds and pays general-admission places in one call. A failed payment releases the hold.
    pub async fn buy_now(&self, who: &Principal, event_id: EventId, buy: &BuyNow) -> Result<Receipt> {
        let BuyNow { ticket_type_id, quantity, .. } = *buy;
        let (idempotency_key, queue_token) = (buy.idempotency_key.as_deref(), buy.queue_token.as_deref());
        let tt = ticket_type_id.ok_or_else(|| AppError::invalid("ticket_type_id", "is required"))?;
        let q = quantity.ok_or_else(|| AppError::invalid("ticket_quantity", "is required"))?;
        let hash = request_hash(&["buy", &event_id.to_string(), &tt.to_string(), &q.to_string()]);
        // A retry of a purchase that went through answers the same receipt without holding again.
        if let Some(key) = idempotency_key
            && let Some((h, payment_id)) = self.store.idempotency_record(who.user_id, key).await?
        {
            if h == hash {
                return self.receipt(payment_id, false).await;
            }
            return Err(AppError::Conflict {
                code: "idempotency_key_reused",
                detail: "this Idempotency-Key was used for a different request".into(),
            });
        }
        let input = ReserveInput {
            event_id: Some(event_id),
            seat_numbers: None,
            ticket_type_id: Some(tt),
            quantity: Some(q),
            near_seat: None,
            queue_token: queue_token.map(str::to_string),
        };
        let held = self.reserve(who, &input).await.map_err(|e| match e {
            AppError::Invalid(mut v) => {
                for f in &mut v.0 {
                    if f.field == "quantity" {
                        f.field = "ticket_quantity".into();
                    }
                }
                AppError::Invalid(v)
            }
            other => other,
        })?;
        let id = held.reservation.reservation_id;
        let paid = self.pay_with_hash(who, id, idempotency_key, hash).await;
        // Anything but a fresh payment leaves this hold unused: give the places back at once.
        if !matches!(paid, Ok(Receipt { created: true, .. })) {
            self.store.release(id, who.user_id, self.now()).await?;
        }
        paid
    }

    /// Refunds a purchase to the buyer's wallet: the buyer until 24 hours before the event,
    /// the event's organizer or an admin at any time.
    pub async fn refund(&self, who: &Principal, purchase_id: PurchaseId) -> Result<(Purchase, i64)> {
        let purchase = self.store.purchase(purchase_id).await?.ok_or(AppError::NotFound("purchase"))?;
        let event = self.get_event(purchase.event_id).await?;
        let is_buyer = purchase.user_id == who.user_id;
        if !who.owns_or_admin(event.organizer_id) {
            if !is_buyer {
                return Err(AppError::NotFound("purchase"));
            }
            if !buyer_may_refund(event.start_time, self.now()) {
                return Err(AppError::Forbidden("the refund window has closed (24 hours before the event)"));
            }
        }
        match self.store.refund_purchase(purchase_id, MAX_BALANCE_MINOR, self.now()).await? {
            RefundOutcome::Refunded { amount, .. } => {
                let p = self.store.purchase(purchase_id).await?.ok_or(AppError::NotFound("purchase"))?;
                Ok((p, amount))
            }
            RefundOutcome::AlreadyRefunded => Err(AppError::Conflict {
                code: "already_refunded",
                detail: "this purchase has already been refunded".into(),
            }),
            RefundOutcome::NotFound => Err(AppError::NotFound("purchase")),
            RefundOutcome::BalanceCap => Err(AppError::Conflict {
                code: "balance_cap",
                detail: "the refund would take the buyer's balance over 99999999.99".into(),
            }),
        }
    }
}
