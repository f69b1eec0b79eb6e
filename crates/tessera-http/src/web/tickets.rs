//! The holder's tickets: each with its QR code (served by the API's own route, which the page's
//! session cookie signs in), the printable PDF, and sending the e-mail again.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use tessera_app::AppError;
use tessera_app::domain::clock::format_ts;
use tessera_app::domain::id::{EventId, TicketId};
use tessera_app::domain::records::TicketStatus;

use super::public::parse_id;
use super::{FormData, Page, error_page, forged, render, when};
use crate::AppState;

struct TicketCard {
    id: TicketId,
    event_id: EventId,
    event_name: String,
    start: String,
    start_iso: String,
    location: Option<String>,
    kind: String,
    seat: Option<i32>,
    holder: String,
    valid: bool,
    status: String,
    code: String,
}

#[derive(Template)]
#[template(path = "my_tickets.html")]
struct Mine<'a> {
    p: &'a Page,
    tickets: Vec<TicketCard>,
    message: Option<String>,
}

/// `/me/tickets`: the signed-in person's tickets, newest first.
pub async fn mine(State(s): State<AppState>, p: Page) -> Response {
    show(&s, &p, None).await
}

async fn show(s: &AppState, p: &Page, message: Option<String>) -> Response {
    let Some(who) = p.principal().cloned() else { return p.see_other("/signin?next=%2Fme%2Ftickets") };
    let page = match s.app.my_tickets(&who, Some(100), None).await {
        Ok(page) => page,
        Err(e) => return error_page(p, e),
    };
    let tickets = page
        .items
        .into_iter()
        .map(|v| {
            let t = v.ticket;
            TicketCard {
                id: t.ticket_id,
                event_id: t.event_id,
                start: when(t.event_start),
                start_iso: format_ts(t.event_start),
                location: t.location,
                kind: t.ticket_type_name.unwrap_or_default(),
                seat: t.seat_number,
                // The guest's name on a guest's ticket, else the holder's.
                holder: t.guest_name.unwrap_or(t.holder_name),
                valid: t.status == TicketStatus::Valid,
                status: t.status.to_string(),
                code: v.code.unwrap_or_default(),
                event_name: t.event_name,
            }
        })
        .collect();
    render(p, StatusCode::OK, &Mine { p, tickets, message })
}

/// Sends a ticket's e-mail again (the API's resend: limited per ticket and per person).
pub async fn resend(State(s): State<AppState>, p: Page, Path(raw): Path<String>, body: Bytes) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let Some(who) = p.principal().cloned() else { return p.see_other("/signin") };
    let Some(id) = parse_id::<TicketId>(&raw) else { return error_page(&p, AppError::NotFound("ticket")) };
    match s.app.resend_ticket(&who, id).await {
        Ok(_) => show(&s, &p, Some(p.t.resent.to_string())).await,
        Err(e) => error_page(&p, e),
    }
}
