//! Extractors that turn requests into typed values, answering problem+json when they cannot.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use tessera_app::Principal;
use tessera_app::domain::FieldError;

use crate::AppState;
use crate::client_addr::SourceAddr;
use crate::error::ApiError;

/// A JSON body. Malformed JSON, a wrong content type, a wrong field type and a too-large body
/// are each a clear 4xx naming what was wrong.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is too large",
                )
            } else {
                ApiError::bad_request("bad_body", e.body_text(), Vec::new())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON bytes into `T`, naming the field whose type was wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
            vec![FieldError { field: "body".into(), message: e.to_string() }],
        )
    })?;
    let value = integral_floats_as_integers(value);
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the body must be a JSON object",
            vec![FieldError { field: "body".into(), message: "must be a JSON object".into() }],
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        // A missing field is reported at its parent: name the field itself.
        let missing = message.strip_prefix("missing field `").and_then(|m| m.split('`').next());
        let field = match (e.path().to_string(), missing) {
            (p, Some(m)) if p == "." => m.to_string(),
            (p, Some(m)) => format!("{p}.{m}"),
            (p, None) => p,
        };
        ApiError::bad_request(
            "validation_failed",
            format!("{field}: {message}"),
            vec![FieldError { field, message }],
        )
    })
}

/// JSON has one number type, and `1.0` is an integer to JSON Schema (and to JavaScript, which
/// may print it so): a number with no fractional part, in the range where `f64` is exact, is
/// read as the integer it is. Fractional numbers stay as they are.
fn integral_floats_as_integers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)] // in range and integral: exact
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral_floats_as_integers).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, integral_floats_as_integers(v))).collect())
        }
        other => other,
    }
}

/// Query parameters; a wrong type is a 400 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        ApiQuery::parse(parts.uri.query().unwrap_or(""))
    }
}

impl<T: DeserializeOwned> ApiQuery<T> {
    /// Reads a query string as `T` (what the extractor does, for a handler that looks at the raw
    /// query first).
    pub fn parse(q: &str) -> Result<Self, ApiError> {
        // An empty value (`?cursor=`, `?category=`) means the parameter was not given: forms and
        // generated clients send them for every field left blank.
        let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let field = e.path().to_string();
            let message = e.inner().to_string();
            ApiError::bad_request(
                "validation_failed",
                format!("{field}: {message}"),
                vec![FieldError { field, message }],
            )
        })
    }
}

/// Parses a path id; a malformed one is answered like an unknown one (404).
pub fn path_id<I: From<Uuid>>(raw: &str, what: &str) -> Result<I, ApiError> {
    Uuid::parse_str(raw).map(I::from).map_err(|_| ApiError::not_found(what))
}

/// The authenticated caller (`Authorization: Bearer <access token or API key>`); 401 without.
pub struct Auth(pub Principal);

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        if let Some(p) = page_session(parts, &state).await? {
            return Ok(Auth(p));
        }
        let principal = state.app.authenticate(bearer_token(&parts.headers)?).await?;
        Ok(Auth(principal))
    }
}

/// The pages' own scripts call the API with the browser's session cookie instead of a bearer
/// token: only without an Authorization header, only from the same site (`Sec-Fetch-Site`),
/// and a request that changes anything must carry the page's form token in `X-CSRF-Token`.
/// `None` when the request has no such session (the bearer rules then apply).
async fn page_session(parts: &Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    use crate::web::context::{FORM_TOKEN_HEADER, NONCE_COOKIE, SESSION_COOKIE, cookie};
    let h = &parts.headers;
    if h.contains_key(header::AUTHORIZATION) {
        return Ok(None);
    }
    let Some(session) = cookie(h, SESSION_COOKIE).filter(|c| !c.is_empty()) else { return Ok(None) };
    let site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return Ok(None);
    }
    if !parts.method.is_safe() {
        let nonce = cookie(h, NONCE_COOKIE).unwrap_or("");
        let token = h.get(FORM_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !state.app.form_token_ok(nonce, token) {
            return Err(ApiError::forbidden(
                "a request signed in by cookie must carry the page's token in X-CSRF-Token",
            ));
        }
    }
    Ok(state.app.browser_principal(session).await?)
}

/// The caller if they sent credentials (bad ones are still 401), for routes open to everyone
/// that show more to some.
pub struct MaybeAuth(pub Option<Principal>);

impl<S> FromRequestParts<S> for MaybeAuth
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            let state = AppState::from_ref(state);
            return Ok(MaybeAuth(page_session(parts, &state).await?));
        }
        Auth::from_request_parts(parts, state).await.map(|Auth(p)| MaybeAuth(Some(p)))
    }
}

/// The token of `Authorization: Bearer <token>`; 401 without one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    let header = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("authentication required: send Authorization: Bearer <token>")
    })?;
    let value = header.to_str().map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("use the Bearer scheme: Authorization: Bearer <token>"))
}

/// The client's address, for per-address limits: the source API Gateway vouches for (on
/// Lambda), else the entry the trusted proxy added to `X-Forwarded-For`
/// (`TESSERA_TRUSTED_PROXIES`), else the socket peer.
pub struct ClientIp(pub String);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(SourceAddr(ip)) = parts.extensions.get::<SourceAddr>() {
            return Ok(ClientIp(ip.to_string()));
        }
        let state = AppState::from_ref(state);
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let ip = state.trusted_proxies.client_addr(peer, forwarded);
        Ok(ClientIp(ip.map_or_else(|| "unknown".into(), |ip| ip.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Body {
        n: i64,
        list: Vec<u32>,
        ratio: f64,
    }

    #[test]
    fn integral_floats_are_read_as_integers() {
        let b: Body = parse_json(br#"{"n": -340.0, "list": [1.0, 2], "ratio": 2.0}"#).unwrap();
        assert_eq!((b.n, b.list, b.ratio), (-340, vec![1, 2], 2.0));
        let Err(e) = parse_json::<Body>(br#"{"n": 1.5, "list": [], "ratio": 0}"#) else { panic!() };
        assert_eq!(e.errors[0].field, "n");
        // Beyond 2^53 a float is not exact, so it is not taken for an integer.
        assert!(parse_json::<Body>(br#"{"n": 1e300, "list": [], "ratio": 0}"#).is_err());
    }
}
