//! The wallet and payments: `/balance`, `/balance/ledger`, `/payments`, refunds.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_domain::id::{EventId, LedgerEntryId, PaymentId, ReservationId, TicketId, TicketTypeId, UserId};
use tessera_domain::records::{LedgerEntry, Ticket};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use tessera_app::checkout::Receipt;

use super::{DecimalInput, Paged, PurchaseBody, money};
use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_balance, charge_balance))
        .routes(routes!(list_ledger))
        .routes(routes!(create_payment))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceBody {
    pub user_id: UserId,
    #[schema(example = "10000.00")]
    pub balance: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChargeRequest {
    /// Positive decimal, at most 1000000.00.
    pub amount: Option<DecimalInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryBody {
    pub entry_id: LedgerEntryId,
    /// Signed: + charge or refund, − payment.
    #[schema(example = "-7000.00")]
    pub amount: String,
    pub balance_after: String,
    /// charge, payment or refund.
    pub kind: String,
    /// The reservation paid, or the purchase refunded.
    pub reference_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<LedgerEntry> for LedgerEntryBody {
    fn from(r: LedgerEntry) -> Self {
        LedgerEntryBody {
            entry_id: r.entry_id,
            amount: money(r.amount),
            balance_after: money(r.balance_after),
            kind: r.kind.to_string(),
            reference_id: r.reference_id,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentRequest {
    pub reservation_id: Option<ReservationId>,
    /// balance (the wallet; the only method).
    pub method: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketBody {
    pub ticket_id: TicketId,
    pub event_id: EventId,
    pub ticket_type_id: Option<TicketTypeId>,
    pub seat_number: Option<i32>,
    /// valid or void.
    pub status: String,
}

impl From<Ticket> for TicketBody {
    fn from(t: Ticket) -> Self {
        TicketBody {
            ticket_id: t.ticket_id,
            event_id: t.event_id,
            ticket_type_id: t.ticket_type_id,
            seat_number: t.seat_number,
            status: t.status.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptBody {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub amount: String,
    /// success or refunded.
    pub payment_status: String,
    pub payment_method: String,
    pub purchase: PurchaseBody,
    pub tickets: Vec<TicketBody>,
}

/// A receipt answer: 201, with `Idempotent-Replayed: true` when it repeats an earlier request.
pub(crate) fn receipt_response(r: Receipt) -> Response {
    let replayed = !r.created;
    let body = ReceiptBody {
        payment_id: r.payment.payment_id,
        reservation_id: r.payment.reservation_id,
        amount: money(r.payment.amount),
        payment_status: r.payment.payment_status.to_string(),
        payment_method: r.payment.payment_method,
        purchase: r.purchase.into(),
        tickets: r.tickets.into_iter().map(TicketBody::from).collect(),
    };
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    if replayed {
        res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

/// The Idempotency-Key header, if any (400 when it is not text).
pub(crate) fn idempotency_key(h: &HeaderMap) -> ApiResult<Option<String>> {
    match h.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.to_string()))
            .map_err(|_| ApiError::field("Idempotency-Key", "must be visible ASCII")),
    }
}

/// The caller's wallet balance
#[utoipa::path(get, path = "/balance", tag = "wallet", security(("bearer" = [])),
    responses(
        (status = 200, body = BalanceBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_balance(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<BalanceBody>> {
    let b = s.app.balance(&who).await?;
    Ok(Json(BalanceBody { user_id: who.user_id, balance: money(b) }))
}

/// Add money to the caller's wallet
///
/// Send an `Idempotency-Key` header to retry safely: the same key and amount are applied once
/// and answer the first balance again (with `Idempotent-Replayed: true`); the same key with
/// another amount is 409.
#[utoipa::path(post, path = "/balance", tag = "wallet", security(("bearer" = [])), request_body = ChargeRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 200, description = "The new balance", body = BalanceBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn charge_balance(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ChargeRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let amount = b.amount.map(DecimalInput::into_string);
    let (new, replayed) = s.app.charge_once(&who, amount.as_deref(), key.as_deref()).await?;
    let mut res = Json(BalanceBody { user_id: who.user_id, balance: money(new) }).into_response();
    if replayed {
        res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// The caller's wallet ledger, newest first
#[utoipa::path(get, path = "/balance/ledger", tag = "wallet", security(("bearer" = [])), params(LedgerQuery),
    responses(
        (status = 200, body = Paged<LedgerEntryBody>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_ledger(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<Json<Paged<LedgerEntryBody>>> {
    let page = s.app.ledger(&who, q.limit, q.cursor.as_deref()).await?;
    Ok(Json(Paged::from_page(page, LedgerEntryBody::from)))
}

pub(crate) async fn pay(
    s: &AppState,
    who: &tessera_app::Principal,
    headers: &HeaderMap,
    b: PaymentRequest,
) -> ApiResult<Response> {
    let key = idempotency_key(headers)?;
    let r = s.app.pay(who, b.reservation_id, b.method.as_deref(), key.as_deref()).await?;
    Ok(receipt_response(r))
}

/// Pay a hold from the wallet
///
/// Send an `Idempotency-Key` header to retry safely: the same key and body answer the first
/// payment again (with `Idempotent-Replayed: true`); the same key with another body is 409.
#[utoipa::path(post, path = "/payments", tag = "wallet", security(("bearer" = [])), request_body = PaymentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, body = ReceiptBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "Balance too low", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already paid, or key reused", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Hold expired or released", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_payment(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiJson(b): ApiJson<PaymentRequest>,
) -> ApiResult<Response> {
    pay(&s, &who, &headers, b).await
}
