//! Tessera's HTTP API: the axum router, its middleware and the OpenAPI document.
//!
//! The same [`router`] serves the standalone server, the Lambda entry and the tests.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use tessera_app::App;

pub mod answers;
pub mod api;
pub mod client_addr;
mod contract;
mod docs;
pub mod error;
pub mod extract;
mod middleware;
pub mod shed;
pub mod web;

/// A file the build fetched from npm (web/vendor.txt), by its last path segment.
#[macro_export]
#[doc(hidden)]
macro_rules! vendored {
    ($file:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/vendor/", $file)).as_slice()
    };
}

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// What the handlers share, behind one `Arc`: the router and every extractor that needs the state
/// clone it per request, and cloning the app's handles one by one would touch a dozen reference
/// counts, each an atomic bounced between the cores, on every request.
#[derive(Debug)]
pub struct Shared {
    pub app: App,
    /// Renders `/metrics`; `None` when no recorder is installed (tests).
    pub metrics: Option<PrometheusHandle>,
    /// The proxies whose `X-Forwarded-For` entries name the client (per-address limits).
    pub trusted_proxies: client_addr::TrustedProxies,
    /// A bearer token that may read `/metrics` (admins may too).
    pub metrics_token: Option<String>,
    /// Requests in flight per route class before the excess is shed (503).
    pub shed_limits: shed::ShedLimits,
    /// Whether the pages' cookies are marked Secure (served over HTTPS, directly or behind a
    /// proxy or API Gateway).
    pub secure_cookies: bool,
    /// Catalogue answers kept serialized (answers.rs).
    pub answers: answers::Answers,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera",
        description = "Event-ticketing platform API: catalogue, accounts, purchases and statistics. \
                       Errors are RFC 9457 application/problem+json.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "catalogue", description = "Events and categories"),
        (name = "accounts", description = "Registration, login, tokens, users, API keys"),
        (name = "purchases", description = "Purchases read API"),
        (name = "stats", description = "Sales aggregates"),
        (name = "booking", description = "Ticket types, seats and holds"),
        (name = "wallet", description = "Balance, ledger and payments"),
        (name = "queue", description = "The virtual waiting room"),
        (name = "tickets", description = "E-tickets, their signed codes and the event keys behind them"),
        (name = "applications", description = "Application forms, applications for named guests, approval and rejection"),
        (name = "check-in", description = "Door scanning online and offline, door staff and counts"),
        (name = "chats", description = "Event, direct and group chats: messages, read markers, moderation, and live delivery over a WebSocket"),
        (name = "calls", description = "Calls between two people; WebRTC signaling over the WebSocket"),
        (name = "files", description = "File upload and download: event images, chat attachments"),
        (name = "festival", description = "Festival application API (compatible paths), sharing the handlers above"),
        (name = "concerts", description = "Concert reservation API (compatible paths), sharing the handlers above"),
        (name = "pages", description = "Web pages at the festival design's paths (HTML; signed in by a session cookie, forms with a CSRF token)"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token or tsk_ API key")
                    .description(Some(
                        "Tessera's access token (POST /auth/login), an API key (tsk_…), or, when \
                         TESSERA_OIDC_ISSUER is set, an access or ID token from that issuer \
                         (Cognito: its groups admin, organizer, staff give the role)",
                    ))
                    .build(),
            ),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api::ops::router())
        .merge(api::auth::router())
        .merge(api::users::router())
        .merge(api::api_keys::router())
        .merge(api::events::router())
        .merge(api::purchases::router())
        .merge(api::stats::router())
        .merge(api::booking::router())
        .merge(api::wallet::router())
        .merge(api::concerts::router())
        .merge(api::festival::router())
        .merge(web::documented())
        .merge(api::queue::router())
        .merge(api::tickets::router())
        .merge(api::checkin::router())
        .merge(api::applications::router())
        .merge(api::chats::router())
        .merge(api::calls::router())
        .merge(api::files::router())
        .merge(api::live::router())
}

/// The OpenAPI document generated from the routes (committed as `openapi.json`), with the
/// rules every route shares (`contract`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    truthful(api_router().split_for_parts().1)
}

fn truthful(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut v) = serde_json::to_value(&doc) else { return doc };
    contract::apply(&mut v);
    serde_json::from_value(v).unwrap_or(doc)
}

/// The OpenAPI document as the pretty JSON that is committed.
pub fn openapi_json() -> String {
    openapi().to_pretty_json().unwrap_or_default() + "\n"
}

/// The router of the separate metrics listener (`TESSERA_METRICS_LISTEN`): `/metrics` only, with
/// no token, for a scraper on a private address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(
                |s: axum::extract::State<AppState>| async move { api::ops::render_metrics(&s) },
            ),
        )
        .with_state(state)
}

/// The complete application router with its middleware.
pub fn router(state: AppState) -> Router {
    let shedder = shed::Shedder::new(state.shed_limits);
    let (routes, doc) = api_router().split_for_parts();
    let doc = truthful(doc);
    let routes = routes
        .merge(web::router())
        .fallback(middleware::no_route)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state);
    Router::new().merge(docs::router(doc)).merge(routes).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(CompressionLayer::new().compress_when(SizeAbove::new(256).and(middleware::compressible)))
            // Outside the `from_fn` middleware, which clones what is inside it per request (and
            // the CORS rules are lists). Preflights are answered here, before the log line.
            .layer(CorsLayer::new().allow_origin(Any).allow_methods(Any).allow_headers(Any))
            .layer(axum::middleware::from_fn_with_state(shedder, middleware::observe))
            .layer(CatchPanicLayer::new())
            .layer(axum::middleware::from_fn(middleware::deadline))
            .layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
}
