//! Signing in, creating an account and signing out from the pages.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use tessera_app::AppError;
use tessera_app::domain::user::RegisterInput;

use super::context::SESSION_COOKIE;
use super::{FormData, Page, error_page, forged, local_path, render};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::ClientIp;

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn<'a> {
    p: &'a Page,
    next: String,
    email: String,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUp<'a> {
    p: &'a Page,
    next: String,
    name: String,
    email: String,
    errors: BTreeMap<String, String>,
}

pub async fn sign_in_page(p: Page, Query(n): Query<Next>) -> Response {
    let next = local_path(n.next.as_deref());
    if p.viewer.is_some() {
        return p.see_other(&next);
    }
    render(&p, StatusCode::OK, &SignIn { p: &p, next, email: String::new(), message: None })
}

/// Signs in with the API's checks and limits; the session goes into an HttpOnly cookie.
pub async fn sign_in(
    State(s): State<AppState>,
    mut p: Page,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let next = local_path(f.get("next"));
    let email = f.get("email").unwrap_or("").trim().to_string();
    match s.app.sign_in_browser(&email, f.get("password").unwrap_or(""), &ip).await {
        Ok(session) => {
            p.sign_in(&session.cookie, session.max_age_secs);
            p.see_other(&next)
        }
        Err(e @ (AppError::Unavailable(_) | AppError::Internal(_) | AppError::DurabilityUnknown(_))) => {
            error_page(&p, e)
        }
        Err(e) => {
            let e = ApiError::from(e);
            let message = Some(match e.errors.first() {
                Some(f) => format!("{}: {}", f.field, f.message),
                None => e.detail.clone(),
            });
            render(&p, e.status, &SignIn { p: &p, next, email, message })
        }
    }
}

pub async fn sign_up_page(p: Page, Query(n): Query<Next>) -> Response {
    let next = local_path(n.next.as_deref());
    let form = SignUp { p: &p, next, name: String::new(), email: String::new(), errors: BTreeMap::new() };
    render(&p, StatusCode::OK, &form)
}

/// Creates an attendee account and signs it in.
pub async fn sign_up(
    State(s): State<AppState>,
    mut p: Page,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let next = local_path(f.get("next"));
    let name = f.get("name").unwrap_or("").to_string();
    let email = f.get("email").unwrap_or("").trim().to_string();
    let password = f.get("password").unwrap_or("").to_string();
    let input = RegisterInput {
        name: Some(name.as_str()),
        email: Some(email.as_str()),
        password: Some(password.as_str()),
        phone_number: None,
        role: None,
    };
    let refused = |e: AppError| {
        let e = ApiError::from(e);
        let mut errors: BTreeMap<String, String> =
            e.errors.iter().map(|f| (f.field.clone(), f.message.clone())).collect();
        if errors.is_empty() {
            // A taken e-mail (409) or a limit: shown at the e-mail field.
            errors.insert("email".into(), e.detail.clone());
        }
        (e.status, errors)
    };
    if let Err(e) = s.app.register(input).await {
        if matches!(e, AppError::Unavailable(_) | AppError::Internal(_)) {
            return error_page(&p, e);
        }
        let (status, errors) = refused(e);
        return render(&p, status, &SignUp { p: &p, next, name, email, errors });
    }
    match s.app.sign_in_browser(&email, &password, &ip).await {
        Ok(session) => {
            p.sign_in(&session.cookie, session.max_age_secs);
            p.see_other(&next)
        }
        Err(e) => error_page(&p, e),
    }
}

/// Ends the browser's session (a form, so another site cannot sign a visitor out).
pub async fn sign_out(
    State(s): State<AppState>,
    mut p: Page,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    if let Some(c) = super::context::cookie(&headers, SESSION_COOKIE)
        && let Err(e) = s.app.sign_out_browser(c).await
    {
        return error_page(&p, e);
    }
    p.sign_out();
    p.see_other("/")
}
