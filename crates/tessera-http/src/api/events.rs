//! `/events` and `/categories`: the catalogue.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::catalogue::{EventPatch, EventQuery};
use tessera_app::domain::booking::{SeatMapInput, SectionInput};
use tessera_app::domain::event::EventInput;

use super::{DecimalInput, EventBody, Paged, double_option};
use crate::AppState;
use crate::answers::json_bytes;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event, patch_event, delete_event))
        .routes(routes!(list_categories))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EventCreateRequest {
    #[schema(example = "Jazz Night")]
    pub name: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    /// RFC 3339.
    #[schema(example = "2026-05-01T18:00:00+09:00")]
    pub start_time: Option<String>,
    /// RFC 3339, not before start_time.
    pub end_time: Option<String>,
    /// Display name; defaults to the creator's name.
    pub organizer: Option<String>,
    pub category: Option<String>,
    /// Decimal (string or number) ≥ 0; omit for a free event.
    pub price: Option<DecimalInput>,
    /// ISO 4217, default JPY.
    pub currency: Option<String>,
    pub max_attendees: Option<i64>,
    /// http(s) URL.
    pub url: Option<String>,
    /// general (default: places sold per ticket type) or seated (numbered seats).
    pub seating: Option<String>,
    /// Seated events: number of seats (default 50, at most 100,000), numbered from 1.
    pub seat_count: Option<i64>,
    /// Seated events: sections instead of seat_count, numbered in order.
    pub sections: Option<Vec<SectionRequest>>,
    /// How long a hold lasts before payment (seconds, default 300).
    pub hold_seconds: Option<i64>,
    /// Most places one person may hold or buy (default 10).
    pub max_per_person: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SectionRequest {
    #[schema(example = "Arena A")]
    pub name: Option<String>,
    pub rows: Option<i64>,
    pub seats_per_row: Option<i64>,
    /// Price of each seat in the section; default the event's price.
    pub price: Option<DecimalInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EventPatchRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub location: Option<Option<String>>,
    pub start_time: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub end_time: Option<Option<String>>,
    pub organizer: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DecimalInput>)]
    pub price: Option<Option<DecimalInput>>,
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_attendees: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub url: Option<Option<String>>,
    pub hold_seconds: Option<i64>,
    pub max_per_person: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryBody {
    pub category: String,
    /// Published events in the category.
    pub event_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    pub items: Vec<CategoryBody>,
}

/// List events
///
/// Filter, sort and page through the catalogue. Cancelled events are left out unless
/// `status=cancelled` or `status=all`.
#[utoipa::path(get, path = "/events", tag = "catalogue",
    params(EventQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 while it is current")),
    responses(
        (status = 200, body = Paged<EventBody>, headers(("ETag" = String, description = "Changes when the answer does"))),
        (status = 304, description = "Not modified: the If-None-Match ETag is current"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_events(
    State(s): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let raw = raw.unwrap_or_default();
    let version = s.app.catalogue_version();
    s.answers
        .answer(&format!("events?{raw}"), version, &headers, || async {
            let ApiQuery(query) = ApiQuery::<EventQuery>::parse(&raw)?;
            json_bytes(&Paged::from_page(s.app.list_events(&query).await?, EventBody::from))
        })
        .await
}

/// One event
#[utoipa::path(get, path = "/events/{event_id}", tag = "catalogue",
    params(("event_id" = String, Path, description = "Event id (UUID)"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 while it is current")),
    responses(
        (status = 200, body = EventBody, headers(("ETag" = String, description = "Changes when the answer does"))),
        (status = 304, description = "Not modified: the If-None-Match ETag is current"),
        (status = 404, description = "Unknown or malformed id", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_event(
    State(s): State<AppState>,
    Path(event_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let version = s.app.catalogue_version();
    s.answers
        .answer(&format!("events/{event_id}"), version, &headers, || async {
            let id = path_id(&event_id, "event")?;
            json_bytes(&EventBody::from(s.app.get_event(id).await?))
        })
        .await
}

/// Create an event (organizers and admins)
#[utoipa::path(post, path = "/events", tag = "catalogue", security(("bearer" = [])), request_body = EventCreateRequest,
    responses(
        (status = 201, body = EventBody, headers(("Location" = String, description = "The new event's URL"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_event(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<EventCreateRequest>,
) -> ApiResult<(StatusCode, HeaderMap, Json<EventBody>)> {
    let input = EventInput {
        name: b.name,
        description: b.description,
        location: b.location,
        start_time: b.start_time,
        end_time: b.end_time,
        organizer: b.organizer,
        category: b.category,
        price: b.price.map(DecimalInput::into_string),
        currency: b.currency,
        max_attendees: b.max_attendees,
        url: b.url,
        seating: b.seating,
        hold_seconds: b.hold_seconds,
        max_per_person: b.max_per_person,
    };
    let seat_map = SeatMapInput {
        seat_count: b.seat_count,
        sections: b.sections.map(|v| {
            v.into_iter()
                .map(|s| SectionInput {
                    name: s.name,
                    rows: s.rows,
                    seats_per_row: s.seats_per_row,
                    price: s.price.map(DecimalInput::into_string),
                })
                .collect()
        }),
    };
    let event = s.app.create_event(&who, &input, &seat_map).await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/events/{}", event.event_id)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(event.into())))
}

/// Change an event (its organizer or an admin)
#[utoipa::path(patch, path = "/events/{event_id}", tag = "catalogue", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    request_body = EventPatchRequest,
    responses(
        (status = 200, body = EventBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_event(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    ApiJson(b): ApiJson<EventPatchRequest>,
) -> ApiResult<Json<EventBody>> {
    let id = path_id(&event_id, "event")?;
    let patch = EventPatch {
        name: b.name,
        description: b.description,
        location: b.location,
        start_time: b.start_time,
        end_time: b.end_time,
        organizer: b.organizer,
        category: b.category,
        price: b.price.map(|p| p.map(DecimalInput::into_string)),
        currency: b.currency,
        max_attendees: b.max_attendees,
        url: b.url,
        hold_seconds: b.hold_seconds,
        max_per_person: b.max_per_person,
    };
    Ok(Json(s.app.patch_event(&who, id, patch).await?.into()))
}

/// Cancel an event (its organizer or an admin)
///
/// The event stays readable with status `cancelled`; cancelling twice is harmless.
#[utoipa::path(delete, path = "/events/{event_id}", tag = "catalogue", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, description = "The cancelled event", body = EventBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_event(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
) -> ApiResult<Json<EventBody>> {
    let id = path_id(&event_id, "event")?;
    Ok(Json(s.app.cancel_event(&who, id).await?.into()))
}

/// Categories with their number of published events
#[utoipa::path(get, path = "/categories", tag = "catalogue", responses((status = 200, body = CategoryList)))]
pub async fn list_categories(State(s): State<AppState>) -> ApiResult<Json<CategoryList>> {
    let items = s
        .app
        .categories()
        .await?
        .into_iter()
        .map(|(category, event_count)| CategoryBody { category, event_count });
    Ok(Json(CategoryList { items: items.collect() }))
}
