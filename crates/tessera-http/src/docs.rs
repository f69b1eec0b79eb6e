//! The API's documentation: `/openapi.json` and Swagger UI at `/docs/`.
//!
//! Swagger UI's two files come from npm like the pages' scripts (web/vendor.txt), so the binary
//! carries just what the page loads, about 1.6 MB, where the whole distribution with its source
//! maps and other bundles was 11 MB.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use bytes::Bytes;

use crate::error::ApiError;

/// (name, content type, bytes)
const FILES: &[(&str, &str, &[u8])] = &[
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", crate::vendored!("swagger-ui-bundle.js")),
    ("swagger-ui.css", "text/css; charset=utf-8", crate::vendored!("swagger-ui.css")),
    ("swagger-initializer.js", "text/javascript; charset=utf-8", INITIALIZER.as_bytes()),
];

/// Relative links, so the page works under a path prefix (an API Gateway stage) too.
const INDEX: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tessera API</title>
<link rel="stylesheet" href="swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="swagger-ui-bundle.js"></script>
<script src="swagger-initializer.js"></script>
</body>
</html>
"#;

const INITIALIZER: &str = r##"window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "../openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
};
"##;

/// `/openapi.json` (the document `doc`, serialized at its first request rather than at start-up,
/// which a Lambda cold start waits for, then kept) and `/docs/`.
pub fn router<S: Clone + Send + Sync + 'static>(doc: utoipa::openapi::OpenApi) -> Router<S> {
    let doc = Arc::new((doc, OnceLock::<Bytes>::new()));
    let openapi = move || {
        let doc = doc.clone();
        async move {
            let json = doc.1.get_or_init(|| Bytes::from(serde_json::to_vec(&doc.0).unwrap_or_default()));
            file("application/json", json.clone(), "no-cache")
        }
    };
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/docs", get(|| async { Redirect::permanent("/docs/") }))
        .route("/docs/", get(|| async { file("text/html; charset=utf-8", INDEX.as_bytes(), "no-cache") }))
        .route("/docs/{file}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => file(kind, *body, "public, max-age=3600"),
        None => ApiError::not_found("file").into_response(),
    }
}

fn file(kind: &'static str, body: impl IntoResponse, cache: &'static str) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}
