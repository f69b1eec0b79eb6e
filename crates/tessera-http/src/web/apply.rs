//! Application forms as pages: a ticket type's form built from its definition, checked in the
//! browser (HTML constraints) and on the server (the API's own checks), a confirmation step,
//! and the result; seed 003's fixed paths (`/apply/student`, `/apply/teacher`) and the
//! applicant's own list.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use tessera_app::applications::ApplyInput;
use tessera_app::domain::application::{Answer, FieldKind, FormField};
use tessera_app::domain::id::{ApplicationId, EventId, TicketTypeId};
use tessera_app::domain::records::{Application, ApplicationStatus, Event, TicketType};
use tessera_app::{AppError, Principal};

use super::public::parse_id;
use super::{FormData, Page, error_page, forged, message_page, render, when};
use crate::AppState;
use crate::error::ApiError;

/// A form field with what was entered and what was wrong with it.
struct FieldView {
    name: String,
    label: String,
    kind: &'static str,
    input_type: &'static str,
    required: bool,
    options: Vec<String>,
    min: Option<f64>,
    max: Option<f64>,
    max_length: Option<usize>,
    value: String,
    error: Option<String>,
}

struct GuestView {
    index: usize,
    value: String,
}

#[derive(Template)]
#[template(path = "apply_form.html")]
struct FormPage<'a> {
    p: &'a Page,
    event_id: EventId,
    event_name: String,
    tt_id: TicketTypeId,
    tt_name: String,
    fields: Vec<FieldView>,
    guests: Vec<GuestView>,
    guests_error: Option<String>,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "apply_confirm.html")]
struct ConfirmPage<'a> {
    p: &'a Page,
    event_id: EventId,
    event_name: String,
    tt_id: TicketTypeId,
    tt_name: String,
    fields: Vec<FieldView>,
    guests: Vec<GuestView>,
}

/// What a form needs: the event, the ticket type and its fields.
struct Form {
    event: Event,
    tt: TicketType,
    fields: Vec<FormField>,
    /// Places the person may still apply for.
    left: i64,
}

impl Form {
    async fn load(
        s: &AppState,
        who: &Principal,
        event_id: EventId,
        tt_id: TicketTypeId,
    ) -> Result<Form, AppError> {
        let event = s.app.get_event(event_id).await?;
        let tt = s.app.event_ticket_type(event_id, tt_id).await?;
        let fields = s.app.application_form(event_id, tt_id).await?;
        let left = s.app.places_left_to_apply(who, &tt).await?;
        Ok(Form { event, tt, fields, left })
    }

    /// A guest line per place still open to the person, up to ten on one page.
    fn guest_slots(&self) -> usize {
        usize::try_from(self.left).unwrap_or(1).clamp(1, 10)
    }

    fn views(&self, f: &FormData, errors: &BTreeMap<String, String>) -> (Vec<FieldView>, Vec<GuestView>) {
        let fields = self
            .fields
            .iter()
            .map(|d| FieldView {
                name: d.name.clone(),
                label: d.label.clone(),
                kind: match d.kind {
                    FieldKind::Text => "text",
                    FieldKind::Email => "email",
                    FieldKind::Number => "number",
                    FieldKind::Choice => "choice",
                },
                input_type: match d.kind {
                    FieldKind::Email => "email",
                    FieldKind::Number => "number",
                    _ => "text",
                },
                required: d.required,
                options: d.options.clone(),
                min: d.min,
                max: d.max,
                max_length: d.max_length.or(Some(1000)),
                value: f.get(&format!("a.{}", d.name)).unwrap_or("").to_string(),
                error: errors.get(&format!("answers.{}", d.name)).cloned(),
            })
            .collect();
        let given: Vec<&str> = f.all("guest").collect();
        let guests = (0..self.guest_slots())
            .map(|i| GuestView { index: i + 1, value: given.get(i).unwrap_or(&"").to_string() })
            .collect();
        (fields, guests)
    }

    /// The application a submitted form stands for.
    fn input(&self, f: &FormData) -> ApplyInput {
        let mut answers = BTreeMap::new();
        for (name, value) in f.prefixed("a.") {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let number = self.fields.iter().any(|d| d.name == name && d.kind == FieldKind::Number);
            let answer = match value.parse::<f64>() {
                Ok(n) if number && n.is_finite() => Answer::Number(n),
                _ => Answer::Text(value.to_string()),
            };
            answers.insert(name.to_string(), answer);
        }
        let guests: Vec<String> =
            f.all("guest").map(str::trim).filter(|g| !g.is_empty()).map(str::to_string).collect();
        ApplyInput { ticket_type_id: Some(self.tt.ticket_type_id), answers, guest_names: Some(guests) }
    }

    fn page<'a>(
        &self,
        p: &'a Page,
        f: &FormData,
        errors: &BTreeMap<String, String>,
        message: Option<String>,
    ) -> FormPage<'a> {
        let (fields, guests) = self.views(f, errors);
        FormPage {
            p,
            event_id: self.event.event_id,
            event_name: self.event.name.clone(),
            tt_id: self.tt.ticket_type_id,
            tt_name: self.tt.name.clone(),
            fields,
            guests,
            guests_error: errors.get("guest_names").cloned(),
            message,
        }
    }
}

fn sign_in_first(p: &Page) -> Response {
    let next = form_urlencoded::byte_serialize(p.here.as_bytes()).collect::<String>();
    p.see_other(&format!("/signin?next={next}"))
}

/// `/e/{event_id}/apply/{ticket_type_id}`: the form (signed-in people only).
pub async fn form_page(State(s): State<AppState>, p: Page, Path((e, t)): Path<(String, String)>) -> Response {
    let (Some(event_id), Some(tt_id)) = (parse_id::<EventId>(&e), parse_id::<TicketTypeId>(&t)) else {
        return error_page(&p, AppError::NotFound("ticket type"));
    };
    show_form(&s, &p, event_id, tt_id).await
}

async fn show_form(s: &AppState, p: &Page, event_id: EventId, tt_id: TicketTypeId) -> Response {
    let Some(who) = p.principal() else { return sign_in_first(p) };
    match Form::load(s, who, event_id, tt_id).await {
        Ok(form) => {
            let full = (form.left == 0).then(|| p.t.limit_reached.to_string());
            render(p, StatusCode::OK, &form.page(p, &FormData::default(), &BTreeMap::new(), full))
        }
        Err(e) => error_page(p, e),
    }
}

/// An application form by name (a page): /apply/student and /apply/teacher
///
/// The form of the soonest event taking applications with a ticket type of that name (a choice
/// when several); without a session cookie, to sign in first.
#[utoipa::path(get, path = "/apply/{form}", tag = "pages",
    params(("form" = String, Path, description = "student, teacher, or another ticket type's name")),
    responses(
        (status = 200, description = "The form", content_type = "text/html", body = String),
        (status = 303, description = "Not signed in: to /signin"),
        (status = 404, description = "No event takes applications with this form now", content_type = "text/html", body = String),
    ))]
pub async fn named_form(State(s): State<AppState>, p: Page, Path(name): Path<String>) -> Response {
    let forms = match s.app.open_forms_named(&name).await {
        Ok(f) => f,
        Err(e) => return error_page(&p, e),
    };
    match forms.as_slice() {
        [] => message_page(&p, StatusCode::NOT_FOUND, p.t.no_form),
        [(e, t)] => show_form(&s, &p, e.event_id, t.ticket_type_id).await,
        many => {
            let choices = many
                .iter()
                .map(|(e, t)| Choice {
                    href: format!("/e/{}/apply/{}", e.event_id, t.ticket_type_id),
                    event_name: e.name.clone(),
                    tt_name: t.name.clone(),
                    start: when(e.start_time),
                })
                .collect();
            render(&p, StatusCode::OK, &ChoosePage { p: &p, choices })
        }
    }
}

struct Choice {
    href: String,
    event_name: String,
    tt_name: String,
    start: String,
}

#[derive(Template)]
#[template(path = "apply_choose.html")]
struct ChoosePage<'a> {
    p: &'a Page,
    choices: Vec<Choice>,
}

/// The form posted: `step=review` checks it and shows the confirmation, `edit` goes back to the
/// form, `submit` files it (the API's `apply`) and shows the result.
pub async fn submit(
    State(s): State<AppState>,
    p: Page,
    Path((e, t)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let (Some(event_id), Some(tt_id)) = (parse_id::<EventId>(&e), parse_id::<TicketTypeId>(&t)) else {
        return error_page(&p, AppError::NotFound("ticket type"));
    };
    let Some(who) = p.principal().cloned() else { return sign_in_first(&p) };
    let form = match Form::load(&s, &who, event_id, tt_id).await {
        Ok(form) => form,
        Err(e) => return error_page(&p, e),
    };
    let none = BTreeMap::new();
    let step = f.get("step").unwrap_or("review");
    let result = match step {
        "edit" => return render(&p, StatusCode::OK, &form.page(&p, &f, &none, None)),
        "submit" => s.app.apply(&who, event_id, form.input(&f)).await,
        _ => s.app.check_application(&who, event_id, form.input(&f)).await,
    };
    match result {
        Ok(a) if step == "submit" => p.see_other(&format!("/me/applications/{}?new=1", a.application_id)),
        Ok(_) => {
            let (fields, guests) = form.views(&f, &none);
            let confirm = ConfirmPage {
                p: &p,
                event_id,
                event_name: form.event.name.clone(),
                tt_id,
                tt_name: form.tt.name.clone(),
                fields,
                guests,
            };
            render(&p, StatusCode::OK, &confirm)
        }
        Err(e @ (AppError::Unavailable(_) | AppError::Internal(_) | AppError::DurabilityUnknown(_))) => {
            error_page(&p, e)
        }
        Err(e) => {
            let e = ApiError::from(e);
            let errors: BTreeMap<String, String> =
                e.errors.iter().map(|f| (f.field.clone(), f.message.clone())).collect();
            let message = Some(if errors.is_empty() { e.detail.clone() } else { p.t.fix_errors.to_string() });
            render(&p, e.status, &form.page(&p, &f, &errors, message))
        }
    }
}

/// An application as its applicant sees it.
struct ApplicationView {
    id: ApplicationId,
    event_name: String,
    tt_name: String,
    status: &'static str,
    status_text: &'static str,
    reason: Option<String>,
    guests: Vec<String>,
    created: String,
}

async fn view(s: &AppState, p: &Page, a: Application) -> Result<ApplicationView, AppError> {
    let event = s.app.get_event(a.event_id).await?;
    let tt = s.app.event_ticket_type(a.event_id, a.ticket_type_id).await?;
    let (status, status_text) = match a.status {
        ApplicationStatus::Pending => ("pending", p.t.status_pending),
        ApplicationStatus::Approved => ("approved", p.t.status_approved),
        ApplicationStatus::Rejected => ("rejected", p.t.status_rejected),
    };
    Ok(ApplicationView {
        id: a.application_id,
        event_name: event.name,
        tt_name: tt.name,
        status,
        status_text,
        reason: a.reason,
        guests: serde_json::from_str(&a.guest_names).unwrap_or_default(),
        created: when(a.created_at),
    })
}

#[derive(Template)]
#[template(path = "my_applications.html")]
struct MinePage<'a> {
    p: &'a Page,
    items: Vec<ApplicationView>,
}

/// `/me/applications`: the signed-in person's applications and their status.
pub async fn mine(State(s): State<AppState>, p: Page) -> Response {
    let Some(who) = p.principal().cloned() else { return sign_in_first(&p) };
    let list = match s.app.my_applications(&who).await {
        Ok(l) => l,
        Err(e) => return error_page(&p, e),
    };
    let mut items = Vec::with_capacity(list.len());
    for a in list {
        match view(&s, &p, a).await {
            Ok(v) => items.push(v),
            Err(e) => return error_page(&p, e),
        }
    }
    render(&p, StatusCode::OK, &MinePage { p: &p, items })
}

#[derive(Template)]
#[template(path = "application.html")]
struct OnePage<'a> {
    p: &'a Page,
    a: ApplicationView,
    fresh: bool,
}

/// `/me/applications/{id}`: one of the signed-in person's own applications (anyone else's is
/// not found here, organizers included: they review on the dashboard).
pub async fn one(
    State(s): State<AppState>,
    p: Page,
    Path(raw): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let Some(who) = p.principal().cloned() else { return sign_in_first(&p) };
    let Some(id) = parse_id::<ApplicationId>(&raw) else {
        return error_page(&p, AppError::NotFound("application"));
    };
    let a = match s.app.application(&who, id).await {
        Ok(a) if a.user_id == who.user_id => a,
        Ok(_) => return error_page(&p, AppError::NotFound("application")),
        Err(e) => return error_page(&p, e),
    };
    let fresh = uri.query().is_some_and(|q| q.split('&').any(|kv| kv == "new=1"));
    match view(&s, &p, a).await {
        Ok(a) => render(&p, StatusCode::OK, &OnePage { p: &p, a, fresh }),
        Err(e) => error_page(&p, e),
    }
}
