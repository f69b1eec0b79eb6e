//! `/stats/*`: sales aggregates (seed 000's outputs).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::money;
use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiQuery, Auth, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_event_stats))
        .routes(routes!(get_category_stats))
        .routes(routes!(get_overview))
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
    pub event_id: Uuid,
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
        users_by_role: o.users_by_role.into_iter().map(|(role, users)| RoleCount { role, users }).collect(),
        events: o.events,
        events_published: o.events_published,
        events_cancelled: o.events_cancelled,
        purchases: o.purchases,
        tickets_sold: o.tickets_sold,
        revenue: money(o.revenue),
    }))
}
