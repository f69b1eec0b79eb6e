//! `/stats/*`: sales aggregates (per event, per category, platform totals).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use tessera_domain::id::{EventId, PurchaseId, TicketId, UserId};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::money;
use crate::AppState;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_event_stats))
        .routes(routes!(get_category_stats))
        .routes(routes!(get_overview))
        .routes(routes!(export_event))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DaySalesBody {
    /// UTC day, YYYY-MM-DD.
    pub day: String,
    pub tickets_sold: i64,
    pub revenue: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventStatsBody {
    pub event_id: EventId,
    pub name: String,
    pub purchases: i64,
    pub tickets_sold: i64,
    pub unique_attendees: i64,
    #[schema(example = "35000.00")]
    pub revenue: String,
    pub currency: String,
    /// max_attendees; null when unlimited.
    pub capacity: Option<i32>,
    /// tickets_sold / capacity (0..1), null when unlimited.
    pub fill_rate: Option<f64>,
    pub sales_per_day: Vec<DaySalesBody>,
    /// Tickets checked in on each event day (day 1 is the first 24 hours from the start).
    pub checked_in_per_day: Vec<CheckedInDay>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckedInDay {
    pub day: i32,
    pub checked_in: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Only events starting at or after this RFC 3339 time.
    pub from: Option<String>,
    /// Only events starting at or before this RFC 3339 time.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryStatsBody {
    /// null for events without a category.
    pub category: Option<String>,
    pub events: i64,
    pub tickets_sold: i64,
    pub revenue: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryStatsList {
    pub items: Vec<CategoryStatsBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleCount {
    pub role: String,
    pub users: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewBody {
    pub users: i64,
    pub users_by_role: Vec<RoleCount>,
    pub events: i64,
    pub events_published: i64,
    pub events_cancelled: i64,
    pub purchases: i64,
    pub tickets_sold: i64,
    pub revenue: String,
}

/// Sales of one event (its organizer or an admin)
#[utoipa::path(get, path = "/stats/events/{event_id}", tag = "stats", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, body = EventStatsBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_event_stats(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
) -> ApiResult<Json<EventStatsBody>> {
    let id = path_id(&event_id, "event")?;
    let (event, st) = s.app.event_stats(&who, id).await?;
    #[allow(clippy::cast_precision_loss)]
    let fill_rate = event.max_attendees.map(|cap| st.tickets_sold as f64 / f64::from(cap.max(1)));
    Ok(Json(EventStatsBody {
        event_id: event.event_id,
        name: event.name,
        purchases: st.purchases,
        tickets_sold: st.tickets_sold,
        unique_attendees: st.unique_attendees,
        revenue: money(st.revenue),
        currency: event.currency,
        capacity: event.max_attendees,
        fill_rate,
        sales_per_day: st
            .sales_per_day
            .into_iter()
            .map(|d| DaySalesBody { day: d.day, tickets_sold: d.tickets_sold, revenue: money(d.revenue) })
            .collect(),
        checked_in_per_day: st
            .checked_in_per_day
            .into_iter()
            .map(|(day, checked_in)| CheckedInDay { day, checked_in })
            .collect(),
    }))
}

/// Events, tickets sold and revenue per category (organizers and admins)
#[utoipa::path(get, path = "/stats/categories", tag = "stats", security(("bearer" = [])), params(RangeQuery),
    responses(
        (status = 200, body = CategoryStatsList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_category_stats(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<CategoryStatsList>> {
    let rows = s.app.category_stats(&who, q.from.as_deref(), q.to.as_deref()).await?;
    let items = rows
        .into_iter()
        .map(|c| CategoryStatsBody {
            category: c.category,
            events: c.events,
            tickets_sold: c.tickets_sold,
            revenue: money(c.revenue),
        })
        .collect();
    Ok(Json(CategoryStatsList { items }))
}

/// Platform totals (admins)
#[utoipa::path(get, path = "/stats/overview", tag = "stats", security(("bearer" = [])),
    responses(
        (status = 200, body = OverviewBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_overview(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<OverviewBody>> {
    let o = s.app.overview(&who).await?;
    Ok(Json(OverviewBody {
        users: o.users,
        users_by_role: o
            .users_by_role
            .into_iter()
            .map(|(role, users)| RoleCount { role: role.to_string(), users })
            .collect(),
        events: o.events,
        events_published: o.events_published,
        events_cancelled: o.events_cancelled,
        purchases: o.purchases,
        tickets_sold: o.tickets_sold,
        revenue: money(o.revenue),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// csv (default) or json.
    pub format: Option<String>,
}

/// One ticket in an event's export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportItem {
    pub ticket_id: TicketId,
    /// valid or void.
    pub status: String,
    pub ticket_type: Option<String>,
    pub seat_number: Option<i32>,
    pub holder_id: UserId,
    pub holder_name: String,
    pub holder_email: String,
    pub guest_name: Option<String>,
    pub purchase_id: PurchaseId,
    #[serde(with = "time::serde::rfc3339")]
    pub purchase_time: OffsetDateTime,
    pub ticket_quantity: i32,
    pub total_price: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub mailed_at: Option<OffsetDateTime>,
    /// Event days with an entry.
    pub days_entered: i64,
    /// Inside now (on the latest day it was scanned).
    pub inside: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_entry_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportBody {
    pub event_id: EventId,
    pub name: String,
    pub items: Vec<ExportItem>,
}

/// A cell a spreadsheet will not run as a formula (names are user input).
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() }
}

fn rfc3339(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()).unwrap_or_default()
}

/// An event's tickets, holders, purchases and check-in state as CSV or JSON (its organizer or an admin)
#[utoipa::path(get, path = "/events/{event_id}/export", tag = "stats", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)"), ExportQuery),
    responses(
        (status = 200, description = "The tickets as JSON, or as CSV with ?format=csv", content(
            (ExportBody = "application/json"),
            (String = "text/csv")
        )),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export_event(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let id = path_id(&event_id, "event")?;
    let format = q.format.as_deref().unwrap_or("csv");
    if format != "csv" && format != "json" {
        return Err(ApiError::field("format", "must be csv or json"));
    }
    let (event, rows) = s.app.event_export(&who, id).await?;
    let items: Vec<ExportItem> = rows
        .into_iter()
        .map(|r| ExportItem {
            ticket_id: r.ticket_id,
            status: r.status.to_string(),
            ticket_type: r.ticket_type,
            seat_number: r.seat_number,
            holder_id: r.holder_id,
            holder_name: r.holder_name,
            holder_email: r.holder_email,
            guest_name: r.guest_name,
            purchase_id: r.purchase_id,
            purchase_time: r.purchase_time,
            ticket_quantity: r.ticket_quantity,
            total_price: money(r.total_price),
            mailed_at: r.mailed_at,
            days_entered: r.days_entered,
            inside: r.inside,
            first_entry_at: r.first_entry_at,
        })
        .collect();
    if format == "json" {
        return Ok(Json(ExportBody { event_id: event.event_id, name: event.name, items }).into_response());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| ApiError::from(tessera_app::AppError::internal(format!("CSV: {e}")));
    w.write_record([
        "ticket_id",
        "status",
        "ticket_type",
        "seat_number",
        "holder_id",
        "holder_name",
        "holder_email",
        "guest_name",
        "purchase_id",
        "purchase_time",
        "ticket_quantity",
        "total_price",
        "mailed_at",
        "days_entered",
        "inside",
        "first_entry_at",
    ])
    .map_err(csv_err)?;
    for i in &items {
        w.write_record([
            i.ticket_id.to_string(),
            i.status.clone(),
            cell(i.ticket_type.as_deref().unwrap_or_default()),
            i.seat_number.map(|n| n.to_string()).unwrap_or_default(),
            i.holder_id.to_string(),
            cell(&i.holder_name),
            cell(&i.holder_email),
            cell(i.guest_name.as_deref().unwrap_or_default()),
            i.purchase_id.to_string(),
            rfc3339(Some(i.purchase_time)),
            i.ticket_quantity.to_string(),
            i.total_price.clone(),
            rfc3339(i.mailed_at),
            i.days_entered.to_string(),
            i.inside.to_string(),
            rfc3339(i.first_entry_at),
        ])
        .map_err(csv_err)?;
    }
    let bytes =
        w.into_inner().map_err(|e| ApiError::from(tessera_app::AppError::internal(format!("CSV: {e}"))))?;
    let disposition = format!("attachment; filename=\"event-{id}.csv\"");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_cells_never_start_a_formula() {
        assert_eq!(super::cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::cell("+1"), "'+1");
        assert_eq!(super::cell("@me"), "'@me");
        assert_eq!(super::cell("Aiko"), "Aiko");
    }
}
