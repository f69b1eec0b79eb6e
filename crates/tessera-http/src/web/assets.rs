//! The pages' static files, embedded in the binary: Tessera's own stylesheet and script, and
//! the third-party scripts the build fetched from npm (see web/vendor.txt).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

use crate::vendored;

/// (name, content type, bytes)
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("tessera.css", "text/css; charset=utf-8", include_bytes!("../../web/static/tessera.css")),
    ("tessera.js", "text/javascript; charset=utf-8", include_bytes!("../../web/static/tessera.js")),
    ("buy.js", "text/javascript; charset=utf-8", include_bytes!("../../web/static/buy.js")),
    ("door.js", "text/javascript; charset=utf-8", include_bytes!("../../web/static/door.js")),
    ("charts.js", "text/javascript; charset=utf-8", include_bytes!("../../web/static/charts.js")),
    ("htmx.min.js", "text/javascript; charset=utf-8", vendored!("htmx.min.js")),
    ("chart.umd.min.js", "text/javascript; charset=utf-8", vendored!("chart.umd.min.js")),
    ("jsQR.js", "text/javascript; charset=utf-8", vendored!("jsQR.js")),
    ("THIRD-PARTY.txt", "text/plain; charset=utf-8", vendored!("THIRD-PARTY.txt")),
];

/// The axe-core accessibility checker, for the browser tests (not served).
pub const AXE: &[u8] = vendored!("axe.min.js");

/// One embedded file; 404 for anything else.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, kind, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::not_found("asset").into_response();
    };
    let mut res = (StatusCode::OK, *body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // Deployments change them rarely; an hour keeps pages fast without pinning a stale copy.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// The door page's service worker, served from the site's root so its scope may cover `/door`.
pub async fn door_worker() -> Response {
    let mut res = (StatusCode::OK, include_bytes!("../../web/static/door-sw.js").as_slice()).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}
