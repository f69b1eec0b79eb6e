//! Server-rendered pages (askama templates, htmx): the public catalogue, sign-in, application
//! forms. They call the same app functions as the JSON API; a browser signs in with a session
//! cookie, and every form carries a CSRF token.

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use time::OffsetDateTime;

use tessera_app::AppError;

use crate::AppState;
use crate::error::ApiError;

mod account;
mod admin;
mod apply;
pub mod assets;
mod chat;
pub mod context;
mod door;
pub mod i18n;
mod public;
mod tickets;

pub use context::Page;

/// The pages' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(public::home))
        .route("/e/{event_id}", get(public::event_page))
        .route("/e/{event_id}/buy", get(public::buy_page))
        .route("/e/{event_id}/chat", get(chat::changes).post(chat::send))
        .route("/e/{event_id}/chat/{message_id}/delete", post(chat::remove))
        .route("/signin", get(account::sign_in_page).post(account::sign_in))
        .route("/signup", get(account::sign_up_page).post(account::sign_up))
        .route("/signout", post(account::sign_out))
        .route("/e/{event_id}/apply/{ticket_type_id}", get(apply::form_page).post(apply::submit))
        .route("/me/tickets", get(tickets::mine))
        .route("/me/tickets/{ticket_id}/resend", post(tickets::resend))
        .route("/me/applications", get(apply::mine))
        .route("/me/applications/{application_id}", get(apply::one))
        .route("/admin/events/{event_id}", get(admin::event_admin))
        .route("/admin/events/{event_id}/applications", post(admin::decide))
        .route("/admin/events/{event_id}/staff", post(admin::add_staff))
        .route("/admin/jobs/{job_id}", get(admin::job))
        .route("/admin/users", get(admin::users))
        .route("/door", get(door::door))
        .route("/door-sw.js", get(assets::door_worker))
        .route("/assets/{name}", get(assets::asset))
}

/// The pages at the festival design's paths, documented in the OpenAPI document.
pub fn documented() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(apply::named_form))
        .routes(routes!(admin::dashboard))
        .routes(routes!(admin::analytics))
        .routes(routes!(admin::send_tickets))
}

/// A rendered template with the page's cookies and headers.
pub fn render<T: Template>(p: &Page, status: StatusCode, tpl: &T) -> Response {
    match tpl.render() {
        Ok(html) => p.html(status, html),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    p: &'a Page,
    message: String,
}

/// An error page for what an app function refused, with the status the API would answer.
pub fn error_page(p: &Page, e: AppError) -> Response {
    let e = ApiError::from(e);
    let mut message = e.detail.clone();
    if e.status.is_server_error() {
        message = p.t.error_title.to_string();
    }
    render(p, e.status, &ErrorPage { p, message })
}

/// An error page with a message of the pages' own.
pub fn message_page(p: &Page, status: StatusCode, message: &str) -> Response {
    render(p, status, &ErrorPage { p, message: message.to_string() })
}

/// The answer to a form that did not carry this browser's token.
pub fn forged(p: &Page) -> Response {
    message_page(p, StatusCode::FORBIDDEN, p.t.form_expired)
}

/// A submitted form's fields, in order (a name may repeat).
#[derive(Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Fields whose name starts with `prefix`, with the prefix taken off.
    pub fn prefixed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0.iter().filter_map(move |(k, v)| k.strip_prefix(prefix).map(|k| (k, v.as_str())))
    }

    pub fn token(&self) -> Option<&str> {
        self.get(context::FORM_TOKEN_FIELD)
    }
}

/// A time as pages show it before the script puts it in the reader's zone.
pub fn when(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

/// A price as pages show it ("1500.00 JPY", or the language's "free").
pub fn price(p: &Page, minor: Option<i64>, currency: &str) -> String {
    match minor {
        None | Some(0) => p.t.free.to_string(),
        Some(m) => format!("{} {currency}", crate::api::money(m)),
    }
}

/// A path to return to after signing in: only a path on this site.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() <= 500 => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/e/1")), "/e/1");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn form_fields_repeat_and_keep_their_order() {
        let f = FormData::parse(b"guest=A&a.school=X&guest=B&csrf_token=t");
        assert_eq!(f.all("guest").collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(f.prefixed("a.").collect::<Vec<_>>(), [("school", "X")]);
        assert_eq!(f.token(), Some("t"));
    }
}
