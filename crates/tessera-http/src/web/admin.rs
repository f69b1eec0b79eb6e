//! The organizer's and admin's pages: the dashboard (seed 003's `/admin/dashboard`), analytics
//! (`/admin/analytics`), an event's applications, ticket sending (`/admin/send-tickets`) with a
//! live progress bar, door staff, and the user list. Each number comes from the same app
//! function the JSON API answers with.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use tessera_app::AppError;
use tessera_app::catalogue::EventQuery;
use tessera_app::domain::clock::format_ts;
use tessera_app::domain::event::EventStatus;
use tessera_app::domain::id::{ApplicationId, EventId, JobId};
use tessera_app::domain::records::{Event, JobStatus};
use tessera_app::{Principal, domain::Role};

use super::public::parse_id;
use super::{FormData, Page, error_page, forged, message_page, render, when};
use crate::AppState;
use crate::api::money;
use crate::error::ApiError;

/// The signed-in organizer or admin; otherwise the answer to give instead.
fn organizer(p: &Page) -> Result<Principal, Box<Response>> {
    match p.principal() {
        None => {
            let next = form_urlencoded::byte_serialize(p.here.as_bytes()).collect::<String>();
            Err(Box::new(p.see_other(&format!("/signin?next={next}"))))
        }
        Some(who) if who.role.can_create_events() => Ok(who.clone()),
        Some(_) => Err(Box::new(message_page(p, StatusCode::FORBIDDEN, p.t.organizers_only))),
    }
}

/// The events a dashboard covers: the organizer's own, or every event for an admin (the latest
/// hundred by start).
async fn my_events(s: &AppState, who: &Principal) -> Result<Vec<Event>, AppError> {
    let q = EventQuery {
        organizer_id: (!who.is_admin()).then(|| who.user_id.to_string()),
        status: Some("all".into()),
        sort: Some("-start_time".into()),
        limit: Some(100),
        ..EventQuery::default()
    };
    Ok(s.app.list_events(&q).await?.items)
}

struct EventRow {
    id: EventId,
    name: String,
    start: String,
    start_iso: String,
    cancelled: bool,
    sold: i64,
    fill: Option<i64>,
    revenue: String,
}

struct Totals {
    users: i64,
    events: i64,
    tickets_sold: i64,
    revenue: String,
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct Dashboard<'a> {
    p: &'a Page,
    admin: bool,
    overview: Option<Totals>,
    rows: Vec<EventRow>,
    chart: String,
}

/// The organizer's dashboard (a page): events with tickets sold, fill rate and revenue
///
/// Signed in by the pages' session cookie (a bearer token does not sign pages in): without one
/// it sends the browser to sign in; attendees and staff get 403.
#[utoipa::path(get, path = "/admin/dashboard", tag = "pages",
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /signin"),
        (status = 403, description = "Not an organizer or admin", content_type = "text/html", body = String),
    ))]
pub async fn dashboard(State(s): State<AppState>, p: Page) -> Response {
    let who = match organizer(&p) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    match build_dashboard(&s, &p, &who).await {
        Ok(d) => render(&p, StatusCode::OK, &d),
        Err(e) => error_page(&p, e),
    }
}

async fn build_dashboard<'a>(s: &AppState, p: &'a Page, who: &Principal) -> Result<Dashboard<'a>, AppError> {
    let mut rows = Vec::new();
    let (mut labels, mut revenue) = (Vec::new(), Vec::new());
    for e in my_events(s, who).await? {
        let (event, stats) = s.app.event_stats(who, e.event_id).await?;
        let quotas: i64 =
            s.app.list_ticket_types(e.event_id).await?.iter().map(|t| i64::from(t.row.quota)).sum();
        let capacity = if quotas > 0 { Some(quotas) } else { event.max_attendees.map(i64::from) };
        let fill = capacity.filter(|c| *c > 0).map(|c| (stats.tickets_sold * 100 / c).min(100));
        labels.push(event.name.clone());
        revenue.push(stats.revenue as f64 / 100.0);
        rows.push(EventRow {
            id: event.event_id,
            start: when(event.start_time),
            start_iso: format_ts(event.start_time),
            cancelled: event.status == EventStatus::Cancelled,
            sold: stats.tickets_sold,
            fill,
            revenue: format!("{} {}", money(stats.revenue), event.currency),
            name: event.name,
        });
    }
    let overview = if who.is_admin() {
        let o = s.app.overview(who).await?;
        Some(Totals {
            users: o.users,
            events: o.events,
            tickets_sold: o.tickets_sold,
            revenue: money(o.revenue),
        })
    } else {
        None
    };
    let chart = json!({"type": "bar", "labels": labels, "series": [{"label": p.t.revenue, "data": revenue}]})
        .to_string();
    Ok(Dashboard { p, admin: who.is_admin(), overview, rows, chart })
}

struct CategoryLine {
    name: String,
    events: i64,
    sold: i64,
    revenue: String,
}

struct EventDetail {
    name: String,
    sold: i64,
    revenue: String,
    inside_now: i64,
    sales: Vec<(String, i64, String)>,
    sales_chart: String,
    hours: Vec<(String, String, i64)>,
    hours_chart: String,
}

#[derive(Template)]
#[template(path = "admin_analytics.html")]
struct Analytics<'a> {
    p: &'a Page,
    categories: Vec<CategoryLine>,
    category_chart: String,
    events: Vec<(String, String)>,
    selected: String,
    detail: Option<EventDetail>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AnalyticsQuery {
    event_id: Option<String>,
}

/// Participant analytics (a page): revenue by category; one event's sales over time, entries
/// per hour and gate, and who is inside now
#[utoipa::path(get, path = "/admin/analytics", tag = "pages",
    params(("event_id" = Option<String>, Query, description = "The event to show (default: the latest)")),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /signin"),
        (status = 403, description = "Not an organizer or admin, or not this event's", content_type = "text/html", body = String),
        (status = 404, description = "No such event", content_type = "text/html", body = String),
    ))]
pub async fn analytics(State(s): State<AppState>, p: Page, Query(q): Query<AnalyticsQuery>) -> Response {
    let who = match organizer(&p) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    match build_analytics(&s, &p, &who, q.event_id.as_deref()).await {
        Ok(a) => render(&p, StatusCode::OK, &a),
        Err(e) => error_page(&p, e),
    }
}

async fn build_analytics<'a>(
    s: &AppState,
    p: &'a Page,
    who: &Principal,
    event: Option<&str>,
) -> Result<Analytics<'a>, AppError> {
    let cats = s.app.category_stats(who, None, None).await?;
    let category_chart = json!({
        "type": "bar",
        "labels": cats.iter().map(|c| c.category.clone().unwrap_or_else(|| "—".into())).collect::<Vec<_>>(),
        "series": [{"label": p.t.revenue, "data": cats.iter().map(|c| c.revenue as f64 / 100.0).collect::<Vec<_>>()}],
    })
    .to_string();
    let categories = cats
        .into_iter()
        .map(|c| CategoryLine {
            name: c.category.unwrap_or_else(|| "—".into()),
            events: c.events,
            sold: c.tickets_sold,
            revenue: money(c.revenue),
        })
        .collect();
    let mine = my_events(s, who).await?;
    let events: Vec<(String, String)> =
        mine.iter().map(|e| (e.event_id.to_string(), e.name.clone())).collect();
    let chosen = event.and_then(parse_id::<EventId>).or_else(|| mine.first().map(|e| e.event_id));
    let detail = match chosen {
        Some(id) => Some(event_detail(s, p, who, id).await?),
        None => None,
    };
    let selected = chosen.map(|e| e.to_string()).unwrap_or_default();
    Ok(Analytics { p, categories, category_chart, events, selected, detail })
}

async fn event_detail(s: &AppState, p: &Page, who: &Principal, id: EventId) -> Result<EventDetail, AppError> {
    let (event, stats) = s.app.event_stats(who, id).await?;
    let (_, door) = s.app.checkin_summary(who, id).await?;
    let hours = s.app.entries_per_hour(who, id).await?;
    let sales_chart = json!({
        "type": "line",
        "labels": stats.sales_per_day.iter().map(|d| d.day.clone()).collect::<Vec<_>>(),
        "series": [{"label": p.t.tickets_sold, "data": stats.sales_per_day.iter().map(|d| d.tickets_sold).collect::<Vec<_>>()}],
    })
    .to_string();
    // One series per gate over the hours any gate saw an entry.
    let mut labels: Vec<String> = hours.iter().map(|h| h.0.clone()).collect();
    labels.dedup();
    let mut gates: Vec<Option<String>> = hours.iter().map(|h| h.1.clone()).collect();
    gates.sort();
    gates.dedup();
    let series: Vec<_> = gates
        .iter()
        .map(|g| {
            let data: Vec<i64> = labels
                .iter()
                .map(|l| hours.iter().find(|h| &h.0 == l && &h.1 == g).map_or(0, |h| h.2))
                .collect();
            json!({"label": g.clone().unwrap_or_else(|| "—".into()), "data": data})
        })
        .collect();
    let hours_chart = json!({"type": "bar", "labels": labels, "series": series}).to_string();
    Ok(EventDetail {
        sold: stats.tickets_sold,
        revenue: format!("{} {}", money(stats.revenue), event.currency),
        inside_now: door.inside_now,
        sales: stats
            .sales_per_day
            .iter()
            .map(|d| (d.day.clone(), d.tickets_sold, money(d.revenue)))
            .collect(),
        sales_chart,
        hours: hours.into_iter().map(|(h, g, n)| (h, g.unwrap_or_else(|| "—".into()), n)).collect(),
        hours_chart,
        name: event.name,
    })
}

struct PendingLine {
    id: ApplicationId,
    tt_name: String,
    guests: String,
    answers: String,
    created: String,
}

#[derive(Template)]
#[template(path = "admin_event.html")]
struct EventAdmin<'a> {
    p: &'a Page,
    id: EventId,
    name: String,
    sold: i64,
    revenue: String,
    pending: Vec<PendingLine>,
    staff: Vec<(String, String)>,
    message: Option<String>,
    good: bool,
}

/// `/admin/events/{id}`: applications to decide, ticket sending, door staff, export.
pub async fn event_admin(State(s): State<AppState>, p: Page, Path(raw): Path<String>) -> Response {
    let who = match organizer(&p) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let Some(id) = parse_id::<EventId>(&raw) else { return error_page(&p, AppError::NotFound("event")) };
    show_event_admin(&s, &p, &who, id, None, true).await
}

async fn show_event_admin(
    s: &AppState,
    p: &Page,
    who: &Principal,
    id: EventId,
    message: Option<String>,
    good: bool,
) -> Response {
    match build_event_admin(s, p, who, id, message, good).await {
        Ok(page) => render(p, if good { StatusCode::OK } else { StatusCode::BAD_REQUEST }, &page),
        Err(e) => error_page(p, e),
    }
}

async fn build_event_admin<'a>(
    s: &AppState,
    p: &'a Page,
    who: &Principal,
    id: EventId,
    message: Option<String>,
    good: bool,
) -> Result<EventAdmin<'a>, AppError> {
    let (event, stats) = s.app.event_stats(who, id).await?;
    let apps = s.app.event_applications(who, id, Some("pending"), Some(100), None).await?;
    let types = s.app.list_ticket_types(id).await?;
    let pending = apps
        .items
        .into_iter()
        .map(|a| {
            let guests: Vec<String> = serde_json::from_str(&a.guest_names).unwrap_or_default();
            let answers: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&a.answers).unwrap_or_default();
            let answers = answers
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect::<Vec<_>>()
                .join(", ");
            PendingLine {
                id: a.application_id,
                tt_name: types
                    .iter()
                    .find(|t| t.row.ticket_type_id == a.ticket_type_id)
                    .map(|t| t.row.name.clone())
                    .unwrap_or_default(),
                guests: guests.join(", "),
                answers,
                created: when(a.created_at),
            }
        })
        .collect();
    let staff = s.app.event_staff(who, id).await?.into_iter().map(|m| (m.name, m.email)).collect();
    Ok(EventAdmin {
        p,
        id,
        sold: stats.tickets_sold,
        revenue: format!("{} {}", money(stats.revenue), event.currency),
        name: event.name,
        pending,
        staff,
        message,
        good,
    })
}

/// Approves or rejects the selected applications (a reason is needed to reject).
pub async fn decide(State(s): State<AppState>, p: Page, Path(raw): Path<String>, body: Bytes) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let who = match organizer(&p) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let Some(id) = parse_id::<EventId>(&raw) else { return error_page(&p, AppError::NotFound("event")) };
    let ids: Vec<ApplicationId> = f.all("id").filter_map(parse_id::<ApplicationId>).collect();
    let outcome = match f.get("action") {
        Some("approve") => s.app.approve_applications(&who, id, &ids).await,
        Some("reject") => s.app.reject_applications(&who, id, &ids, f.get("reason")).await,
        _ => Err(AppError::invalid("action", "choose approve or reject")),
    }
    .map(|r| {
        use tessera_app::applications::BatchOutcome::{Approved, Rejected};
        let ok = r.iter().filter(|b| matches!(b.result, Approved | Rejected)).count();
        (ok, r.len() - ok)
    });
    match outcome {
        Ok((ok, refused)) => {
            let m = format!("{}: {ok} ✓ {refused} ✗", p.t.decided);
            show_event_admin(&s, &p, &who, id, Some(m), true).await
        }
        Err(e @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let e = ApiError::from(e);
            let m = e.errors.first().map_or(e.detail.clone(), |f| format!("{}: {}", f.field, f.message));
            show_event_admin(&s, &p, &who, id, Some(m), false).await
        }
        Err(e) => error_page(&p, e),
    }
}

/// Assigns a staff account (by e-mail) to the event's door.
pub async fn add_staff(State(s): State<AppState>, p: Page, Path(raw): Path<String>, body: Bytes) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let who = match organizer(&p) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let Some(id) = parse_id::<EventId>(&raw) else { return error_page(&p, AppError::NotFound("event")) };
    match s.app.add_event_staff_by_email(&who, id, f.get("email").unwrap_or("")).await {
        Ok(_) => show_event_admin(&s, &p, &who, id, Some(p.t.staff_added.to_string()), true).await,
        Err(AppError::Invalid(v)) => {
            let m = v.0.first().map_or_else(String::new, |f| format!("{}: {}", f.field, f.message));
            show_event_admin(&s, &p, &who, id, Some(m), false).await
        }
        Err(e) => error_page(&p, e),
    }
}

/// The bulk-send form's fields, for the OpenAPI document (the handler reads the form itself, so
/// a field that is missing or wrong answers a page, not a problem).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct SendTicketsForm {
    /// The event whose tickets are sent.
    event_id: uuid::Uuid,
    /// `true`: every ticket again; otherwise only those not sent yet.
    all: Option<bool>,
    /// The dashboard page's form token.
    csrf_token: String,
}

/// Send an event's tickets in bulk from the dashboard (a form; as POST /events/{event_id}/tickets/send)
///
/// A form post (`event_id`, `all`, `csrf_token`) from the dashboard, signed in by its session
/// cookie: 303 to the job's progress page. Without the page's form token it is refused (403).
#[utoipa::path(post, path = "/admin/send-tickets", tag = "pages",
    request_body(content = SendTicketsForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Started: to /admin/jobs/{job_id}"),
        (status = 403, description = "No or a wrong form token, or not the event's organizer", content_type = "text/html", body = String),
        (status = 404, description = "No such event", content_type = "text/html", body = String),
    ))]
pub async fn send_tickets(State(s): State<AppState>, p: Page, body: Bytes) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let who = match organizer(&p) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let Some(id) = f.get("event_id").and_then(parse_id::<EventId>) else {
        return error_page(&p, AppError::NotFound("event"));
    };
    match s.app.send_event_tickets(&who, id, f.get("all") == Some("true")).await {
        Ok(job) => p.see_other(&format!("/admin/jobs/{job}")),
        Err(e) => error_page(&p, e),
    }
}

#[derive(Template)]
#[template(path = "admin_job.html")]
struct JobPage<'a> {
    p: &'a Page,
    id: JobId,
    done: i32,
    total: i32,
    total_text: String,
    status: String,
    finished: bool,
    error: Option<String>,
    event_id: Option<String>,
}

/// `/admin/jobs/{id}`: a bulk send's progress; the page polls itself until the job ends.
pub async fn job(State(s): State<AppState>, p: Page, Path(raw): Path<String>) -> Response {
    let Some(who) = p.principal().cloned() else {
        return p.see_other("/signin");
    };
    let Some(id) = parse_id::<JobId>(&raw) else { return error_page(&p, AppError::NotFound("job")) };
    let j = match s.app.job(&who, id).await {
        Ok(j) => j,
        Err(e) => return error_page(&p, e),
    };
    let finished = matches!(j.status, JobStatus::Done | JobStatus::Failed);
    let total = j.progress_total.unwrap_or(0);
    let event_id = serde_json::from_str::<serde_json::Value>(&j.payload)
        .ok()
        .and_then(|v| v["event_id"].as_str().map(str::to_string));
    let page = JobPage {
        p: &p,
        id,
        done: j.progress_done,
        total: total.max(j.progress_done).max(1),
        total_text: j.progress_total.map_or_else(|| "…".into(), |t| t.to_string()),
        status: j.status.to_string(),
        finished,
        error: j.last_error.filter(|_| j.status == JobStatus::Failed),
        event_id,
    };
    render(&p, StatusCode::OK, &page)
}

#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    q: Option<String>,
    role: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    p: &'a Page,
    q: String,
    role: String,
    roles: Vec<&'static str>,
    users: Vec<(String, String, String, bool)>,
    next: Option<String>,
}

/// `/admin/users` (admins): the user list with roles.
pub async fn users(State(s): State<AppState>, p: Page, Query(q): Query<UsersQuery>) -> Response {
    let who = match organizer(&p) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let role = q.role.unwrap_or_default();
    let text = q.q.unwrap_or_default();
    let page = s
        .app
        .list_users(
            &who,
            Some(role.as_str()).filter(|r| !r.is_empty()),
            Some(text.as_str()),
            Some(50),
            q.cursor.as_deref(),
        )
        .await;
    let page = match page {
        Ok(page) => page,
        Err(e) => return error_page(&p, e),
    };
    let next = page.next_cursor.map(|c| {
        let qs = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &text)
            .append_pair("role", &role)
            .append_pair("cursor", &c)
            .finish();
        format!("/admin/users?{qs}")
    });
    let users = page
        .items
        .into_iter()
        .map(|u| (u.name, u.email, u.role.to_string(), u.disabled_at.is_some()))
        .collect();
    let roles = [Role::Attendee, Role::Organizer, Role::Staff, Role::Admin].map(Role::as_str).to_vec();
    render(&p, StatusCode::OK, &UsersPage { p: &p, q: text, role, roles, users, next })
}
