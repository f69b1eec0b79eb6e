//! The door scanner page for staff (its script checks codes online through the API, and offline
//! against the event's bundle).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Page, error_page, message_page, render};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct DoorQuery {
    event_id: Option<String>,
}

#[derive(Template)]
#[template(path = "door.html")]
struct DoorPage<'a> {
    p: &'a Page,
    events: Vec<(String, String)>,
    selected: String,
}

/// `/door`: pick an event whose door you work, then scan.
pub async fn door(State(s): State<AppState>, p: Page, Query(q): Query<DoorQuery>) -> Response {
    let Some(who) = p.principal().cloned() else { return p.see_other("/signin?next=%2Fdoor") };
    if !p.viewer.as_ref().is_some_and(super::context::Viewer::is_staff) {
        return message_page(&p, StatusCode::FORBIDDEN, p.t.staff_only);
    }
    let events = match s.app.door_events(&who).await {
        Ok(e) => e,
        Err(e) => return error_page(&p, e),
    };
    let events: Vec<(String, String)> =
        events.into_iter().map(|e| (e.event_id.to_string(), e.name)).collect();
    let selected = q
        .event_id
        .filter(|id| events.iter().any(|(e, _)| e == id))
        .or_else(|| events.first().map(|(e, _)| e.clone()))
        .unwrap_or_default();
    render(&p, StatusCode::OK, &DoorPage { p: &p, events, selected })
}
