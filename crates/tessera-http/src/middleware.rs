//! Cross-cutting request handling: one log line and metrics per request, and problem+json for
//! every error the framework produces itself (404, 405, 408, 413, panics), in one middleware.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, PROBLEM_JSON};
use crate::shed::{Shedder, classify};

fn request_id(req_headers: &axum::http::HeaderMap) -> &str {
    req_headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-")
}

/// The method as a metric label, without an allocation. Any other method is `OTHER`: a client
/// may send any token as a method, and each distinct label is a time series kept for good.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Logs one line per request (request id, method, route, status, latency), records metrics, and
/// turns any non-problem error response into problem+json (with the request id in 5xx bodies).
/// Everything logged while handling the request carries the request id through the span.
///
/// One middleware rather than two: each `from_fn` layer clones the whole stack inside it per
/// request and adds a boxed future, a cost every request pays on the hot paths of a sale.
pub async fn observe(State(shed): State<Arc<Shedder>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let rid = req.headers().get("x-request-id").cloned();
    let method = method_label(req.method());
    let class = classify(req.method(), req.uri().path());
    // The route template, never the path itself (unmatched paths share one label).
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| route_label(m.as_str()));
    let span = tracing::info_span!("request", request_id = %request_id(req.headers()), method = %method, route = %route);
    let res = match shed.admit(class).await {
        Ok(_permit) => {
            tracing::Instrument::instrument(
                async { as_problem(next.run(req).await, rid).await },
                span.clone(),
            )
            .await
        }
        Err(()) => {
            metrics::counter!("http_requests_shed_total").increment(1);
            overloaded()
        }
    };
    let status = res.status();
    let latency = start.elapsed();
    span.in_scope(|| {
        tracing::info!(status = status.as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "request");
    });
    // Borrowed labels: no allocation per request for the metrics.
    let labels = [
        ("method", Cow::Borrowed(method)),
        ("route", Cow::Borrowed(route)),
        ("status", status_label(status)),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2]).record(latency.as_secs_f64());
    res
}

/// A status code as a metric label, without an allocation (codes are 100–999).
fn status_label(status: StatusCode) -> Cow<'static, str> {
    static LABELS: OnceLock<Vec<String>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| (100..1000).map(|c: u16| c.to_string()).collect());
    match labels.get(usize::from(status.as_u16()).wrapping_sub(100)) {
        Some(l) => Cow::Borrowed(l.as_str()),
        None => Cow::Owned(status.as_u16().to_string()),
    }
}

/// A route template as a `'static` metric label: there are a few dozen, each kept once, so the
/// metrics need no allocation per request.
fn route_label(route: &str) -> &'static str {
    static ROUTES: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(r) = routes.read().ok().and_then(|set| set.get(route).copied()) {
        return r;
    }
    let mut set = match routes.write() {
        Ok(set) => set,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(r) = set.get(route) {
        return r;
    }
    let kept: &'static str = Box::leak(route.to_owned().into_boxed_str());
    set.insert(kept);
    kept
}

/// Which answers are gzipped for clients that ask: JSON, problem documents and text (pages,
/// CSV exports), whole. Left as they are: files (their own type, and ranges of them), images,
/// the event stream, and answers that come compressed already (the catalogue's, answers.rs).
pub fn compressible(status: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    status != StatusCode::PARTIAL_CONTENT
        && (ct.starts_with("application/json")
            || ct.starts_with(PROBLEM_JSON)
            || ct.starts_with("text/html")
            || ct.starts_with("text/plain")
            || ct.starts_with("text/csv")
            || ct.starts_with("text/css")
            || ct.starts_with("text/javascript")
            || ct.starts_with("application/javascript"))
}

/// A non-problem error response as problem+json, with the request id added to 5xx bodies.
async fn as_problem(res: Response, rid: Option<HeaderValue>) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let content_type =
        res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let is_problem = content_type.starts_with(PROBLEM_JSON);
    // A deliberate JSON answer (e.g. /health's 503 body) or a page's own error page is left
    // as it is.
    if (is_problem && status.is_client_error())
        || content_type.starts_with("application/json")
        || content_type.starts_with("text/html")
    {
        return res;
    }
    let (parts, body) = res.into_parts();
    let mut problem = if is_problem {
        let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default()
    } else {
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "server error without a problem body (panic?)");
        }
        let generic = generic_problem(status);
        let resp = generic.into_response();
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default()
    };
    if status.is_server_error()
        && let Some(obj) = problem.as_object_mut()
    {
        let rid = rid.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-");
        obj.insert("request_id".into(), serde_json::Value::String(rid.to_string()));
    }
    let mut out = Response::from_parts(parts, Body::from(problem.to_string()));
    out.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(PROBLEM_JSON));
    out.headers_mut().remove(header::CONTENT_LENGTH);
    out
}

fn generic_problem(status: StatusCode) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::not_found("resource"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(status, "method_not_allowed", "this method is not allowed on this path")
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "body_too_large", "the request body is too large")
        }
        StatusCode::REQUEST_TIMEOUT => ApiError::new(status, "timeout", "the request took too long"),
        s if s.is_server_error() => ApiError::new(s, "internal", "an unexpected error occurred"),
        s => ApiError::new(s, "error", s.canonical_reason().unwrap_or("error")),
    }
}

/// The answer to a request shed under overload.
fn overloaded() -> Response {
    ApiError {
        retry_after: Some(1),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is busy; try again in a moment",
        )
    }
    .into_response()
}

/// Fallback for paths no route matches.
pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such path")
}

/// Fallback for a known path with an unsupported method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed on this path",
    )
}

/// How long a request may take to be answered (408 beyond).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Answers 408 for a request not answered within `REQUEST_TIMEOUT`, except an upload, which takes
/// as long as its bytes take to arrive (the connection's own read timeouts still apply). A
/// download's body streams after its answer has begun, so it is not cut either.
pub async fn deadline(req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::POST && req.uri().path() == "/files" {
        return next.run(req).await;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(res) => res,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}
