//! The public pages: upcoming events with search and category, and an event's page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use tessera_app::catalogue::EventQuery;
use tessera_app::domain::booking::on_sale;
use tessera_app::domain::clock::format_ts;
use tessera_app::domain::event::EventStatus;
use tessera_app::domain::id::EventId;
use tessera_app::domain::records::Event;

use super::chat::{self, Panel};
use super::{Page, error_page, price, render, when};
use crate::AppState;

/// An event as the pages list it.
pub struct EventCard {
    pub id: EventId,
    pub name: String,
    pub start: String,
    pub start_iso: String,
    pub end: Option<String>,
    pub location: Option<String>,
    pub category: Option<String>,
    pub organizer: String,
    pub description: Option<String>,
    pub price: String,
}

impl EventCard {
    pub fn of(p: &Page, e: Event) -> EventCard {
        EventCard {
            id: e.event_id,
            start: when(e.start_time),
            start_iso: format_ts(e.start_time),
            end: e.end_time.map(when),
            price: price(p, e.price, &e.currency),
            name: e.name,
            location: e.location,
            category: e.category,
            organizer: e.organizer,
            description: e.description,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    q: Option<String>,
    category: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    p: &'a Page,
    q: String,
    category: String,
    categories: Vec<String>,
    events: Vec<EventCard>,
    next: Option<String>,
}

/// `/`: events from the last day on, soonest first, searchable by text and category.
pub async fn home(State(s): State<AppState>, p: Page, Query(h): Query<HomeQuery>) -> Response {
    let since = s.app.now() - time::Duration::days(1);
    let q = h.q.unwrap_or_default().chars().take(200).collect::<String>();
    let category = h.category.unwrap_or_default().chars().take(100).collect::<String>();
    let query = EventQuery {
        q: Some(q.clone()).filter(|q| !q.trim().is_empty()),
        category: Some(category.clone()).filter(|c| !c.is_empty()),
        start_from: Some(format_ts(since)),
        limit: Some(20),
        cursor: h.cursor.filter(|c| c.len() <= 500),
        ..EventQuery::default()
    };
    let page = match s.app.list_events(&query).await {
        Ok(page) => page,
        Err(e) => return error_page(&p, e),
    };
    let categories = match s.app.categories().await {
        Ok(c) => c.into_iter().map(|(name, _)| name).collect(),
        Err(e) => return error_page(&p, e),
    };
    let next = page.next_cursor.map(|c| {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q)
            .append_pair("category", &category)
            .append_pair("cursor", &c)
            .finish();
        format!("/?{q}")
    });
    let events = page.items.into_iter().map(|e| EventCard::of(&p, e)).collect();
    render(&p, StatusCode::OK, &Home { p: &p, q, category, categories, events, next })
}

/// A ticket type as the event page shows it.
struct TypeLine {
    id: String,
    name: String,
    price: String,
    left: i64,
    by_application: bool,
    open: bool,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage<'a> {
    p: &'a Page,
    e: EventCard,
    cancelled: bool,
    types: Vec<TypeLine>,
    /// Seated and on sale: the seat map is open.
    seats_open: bool,
    chat: Panel,
}

/// `/e/{event_id}`: an event, its ticket types and how to get them.
pub async fn event_page(State(s): State<AppState>, p: Page, Path(raw): Path<String>) -> Response {
    let Some(event_id) = parse_id::<EventId>(&raw) else {
        return error_page(&p, tessera_app::AppError::NotFound("event"));
    };
    let event = match s.app.get_event(event_id).await {
        Ok(e) => e,
        Err(e) => return error_page(&p, e),
    };
    let types = match s.app.list_ticket_types(event_id).await {
        Ok(t) => t,
        Err(e) => return error_page(&p, e),
    };
    let now = s.app.now();
    let live = event.status == EventStatus::Published && event.start_time > now;
    let types = types
        .into_iter()
        .map(|v| TypeLine {
            id: v.row.ticket_type_id.to_string(),
            price: price(&p, Some(v.row.price), &event.currency),
            left: (i64::from(v.row.quota) - v.sold - v.held).max(0),
            by_application: v.row.requires_approval,
            open: live && on_sale(v.row.sale_starts_at, v.row.sale_ends_at, now),
            name: v.row.name,
        })
        .collect();
    let cancelled = event.status == EventStatus::Cancelled;
    let seats_open = live && event.seating == tessera_app::domain::booking::Seating::Seated;
    let chat = match chat::panel(&s, &p, event_id).await {
        Ok(c) => c,
        Err(e) => return error_page(&p, e),
    };
    let e = EventCard::of(&p, event);
    render(&p, StatusCode::OK, &EventPage { p: &p, e, cancelled, types, seats_open, chat })
}

/// An id from a page's path; `None` (a 404 page) when it is not one.
pub fn parse_id<I: From<uuid::Uuid>>(raw: &str) -> Option<I> {
    uuid::Uuid::parse_str(raw).ok().map(I::from)
}

#[derive(Template)]
#[template(path = "buy.html")]
struct BuyPage<'a> {
    p: &'a Page,
    id: EventId,
    name: String,
    seated: bool,
    queue: bool,
    max_per_person: i32,
    /// General admission types on sale: (id, name, price)
    types: Vec<(String, String, String)>,
}

/// `/e/{event_id}/buy`: the waiting room, seats or quantity, hold and payment (its script uses
/// the JSON API).
pub async fn buy_page(State(s): State<AppState>, p: Page, Path(raw): Path<String>) -> Response {
    let Some(event_id) = parse_id::<EventId>(&raw) else {
        return error_page(&p, tessera_app::AppError::NotFound("event"));
    };
    if p.viewer.is_none() {
        let next = form_urlencoded::byte_serialize(p.here.as_bytes()).collect::<String>();
        return p.see_other(&format!("/signin?next={next}"));
    }
    let event = match s.app.get_event(event_id).await {
        Ok(e) => e,
        Err(e) => return error_page(&p, e),
    };
    let types = match s.app.list_ticket_types(event_id).await {
        Ok(t) => t,
        Err(e) => return error_page(&p, e),
    };
    let queue = match s.app.queue_info(event_id).await {
        Ok(q) => q.state.enabled,
        Err(tessera_app::AppError::NotFound(_)) => false,
        Err(e) => return error_page(&p, e),
    };
    let now = s.app.now();
    let types = types
        .into_iter()
        .filter(|v| !v.row.requires_approval && on_sale(v.row.sale_starts_at, v.row.sale_ends_at, now))
        .map(|v| {
            (
                v.row.ticket_type_id.to_string(),
                v.row.name.clone(),
                price(&p, Some(v.row.price), &event.currency),
            )
        })
        .collect();
    let page = BuyPage {
        p: &p,
        id: event_id,
        seated: event.seating == tessera_app::domain::booking::Seating::Seated,
        queue,
        max_per_person: event.max_per_person,
        types,
        name: event.name,
    };
    render(&p, StatusCode::OK, &page)
}
