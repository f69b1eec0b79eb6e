//! What every page handler starts from: the language, who is signed in (the session cookie),
//! the form token for this browser (its CSRF cookie), and the cookies the answer must set.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use tessera_app::Principal;
use tessera_app::domain::Role;

use super::i18n::{self, Lang, Text};
use crate::AppState;
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "tessera_session";
pub const NONCE_COOKIE: &str = "tessera_csrf";
pub const LANG_COOKIE: &str = "tessera_lang";
/// The form field (and, for scripts, the header) that carries the form token.
pub const FORM_TOKEN_FIELD: &str = "csrf_token";
pub const FORM_TOKEN_HEADER: &str = "x-csrf-token";

/// A cookie's value in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The signed-in person as the pages show them.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub principal: Principal,
    pub name: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.principal.role == Role::Admin
    }

    pub fn is_organizer(&self) -> bool {
        matches!(self.principal.role, Role::Organizer | Role::Admin)
    }

    pub fn is_staff(&self) -> bool {
        matches!(self.principal.role, Role::Staff | Role::Organizer | Role::Admin)
    }
}

/// One page request's context.
#[derive(Debug, Clone)]
pub struct Page {
    pub lang: Lang,
    pub t: &'static Text,
    pub viewer: Option<Viewer>,
    /// The token this browser's forms carry.
    pub form_token: String,
    /// This browser's CSRF nonce as it arrived (empty when it had none).
    nonce_sent: String,
    /// The path and query of this page without `lang=` (for the language switch).
    pub here: String,
    set_cookies: Vec<String>,
    secure: bool,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let lang_asked =
            form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "lang").map(|(_, v)| v.into_owned());
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let lang = i18n::choose(lang_asked.as_deref(), cookie(&parts.headers, LANG_COOKIE), accept);
        let secure = s.secure_cookies;
        let mut set_cookies = Vec::new();
        if lang_asked.as_deref().and_then(Lang::parse).is_some() {
            set_cookies.push(format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{}",
                lang.code(),
                if secure { "; Secure" } else { "" }
            ));
        }
        let nonce_sent = cookie(&parts.headers, NONCE_COOKIE)
            .filter(|n| (20..=64).contains(&n.len()))
            .unwrap_or("")
            .to_string();
        let nonce = if nonce_sent.is_empty() {
            let n = tessera_app::auth::random_token();
            set_cookies.push(cookie_line(NONCE_COOKIE, &n, None, secure));
            n
        } else {
            nonce_sent.clone()
        };
        let viewer = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(c) => match s.app.browser_principal(c).await {
                Ok(Some(p)) => {
                    let name = s.app.get_user(&p, p.user_id).await.map(|u| u.name).unwrap_or_default();
                    Some(Viewer { principal: p, name })
                }
                Ok(None) => {
                    // An ended session: forget the cookie.
                    set_cookies.push(cookie_line(SESSION_COOKIE, "", Some(0), secure));
                    None
                }
                Err(e) => return Err(ApiError::from(e).into_response()),
            },
            None => None,
        };
        let here = without_lang(parts.uri.path(), query);
        Ok(Page {
            lang,
            t: lang.text(),
            viewer,
            form_token: s.app.form_token(&nonce),
            nonce_sent,
            here,
            set_cookies,
            secure,
        })
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure under HTTPS.
fn cookie_line(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// `path?query` without its `lang` parameter.
fn without_lang(path: &str, query: &str) -> String {
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return path.to_string();
    }
    let q = form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
    format!("{path}?{q}")
}

impl Page {
    /// The link that shows this page in the other language.
    pub fn switch_href(&self) -> String {
        let sep = if self.here.contains('?') { '&' } else { '?' };
        format!("{}{sep}lang={}", self.here, self.lang.other().code())
    }

    pub fn principal(&self) -> Option<&Principal> {
        self.viewer.as_ref().map(|v| &v.principal)
    }

    /// Whether a submitted form carries this browser's token.
    pub fn form_ok(&self, s: &AppState, token: Option<&str>) -> bool {
        token.is_some_and(|t| s.app.form_token_ok(&self.nonce_sent, t))
    }

    /// Starts a session: the cookie goes out with the answer.
    pub fn sign_in(&mut self, cookie: &str, max_age_secs: i64) {
        self.set_cookies.push(cookie_line(SESSION_COOKIE, cookie, Some(max_age_secs), self.secure));
    }

    /// Ends the session's cookie.
    pub fn sign_out(&mut self) {
        self.set_cookies.push(cookie_line(SESSION_COOKIE, "", Some(0), self.secure));
        self.viewer = None;
    }

    /// A rendered page with this request's cookies and the pages' headers.
    pub fn html(&self, status: StatusCode, body: String) -> Response {
        let mut res = (status, Html(body)).into_response();
        self.finish(&mut res);
        res
    }

    /// A 303 to `to` (after a form) with this request's cookies.
    pub fn see_other(&self, to: &str) -> Response {
        let mut res = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(to) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        self.finish(&mut res);
        res
    }

    fn finish(&self, res: &mut Response) {
        let h = res.headers_mut();
        for c in &self.set_cookies {
            if let Ok(v) = HeaderValue::from_str(c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        // Pages differ by cookie (who is signed in, the form token): never shared caches.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        h.insert(header::VARY, HeaderValue::from_static("Cookie, Accept-Language"));
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
}

/// Scripts, styles and connections from Tessera itself only; no inline script or style, no
/// framing, forms post back here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; media-src 'self' blob:; worker-src 'self'; frame-ancestors 'none'; \
     form-action 'self'; base-uri 'none'; object-src 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_several_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; tessera_session=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "tessera_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "tessera"), None);
    }

    #[test]
    fn the_language_switch_keeps_the_rest_of_the_query() {
        assert_eq!(without_lang("/", "lang=ja"), "/");
        assert_eq!(without_lang("/", "q=jazz&lang=ja&category=music"), "/?q=jazz&category=music");
        assert_eq!(
            cookie_line("x", "v", Some(0), true),
            "x=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }
}
