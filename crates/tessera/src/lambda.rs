//! `tessera lambda`: the same router behind API Gateway (HTTP API v2 or REST), via lambda_http.

use tessera_app::App;
use tessera_http::{AppState, Shared};

use crate::config::Config;

/// The router as Lambda serves it. The client address is the source IP in API Gateway's request
/// context: `X-Forwarded-For` is not read (its leftmost entry is the client's to write).
pub fn router(app: App, cfg: &Config) -> axum::Router {
    tessera_http::router(AppState::new(Shared {
        trusted_proxies: tessera_http::client_addr::TrustedProxies::None,
        // API Gateway serves HTTPS only.
        secure_cookies: true,
        ..crate::serve::shared(app, cfg)
    }))
    .layer(axum::middleware::from_fn(source_addr))
}

/// Puts API Gateway's source IP where the client-address extractor looks first.
async fn source_addr(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(c)) => c.identity.source_ip.clone(),
        _ => None,
    };
    if let Some(ip) = ip.and_then(|ip| ip.parse().ok()) {
        req.extensions_mut().insert(tessera_http::client_addr::SourceAddr(ip));
    }
    next.run(req).await
}

/// Runs the Lambda event loop.
pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    let app = crate::build_app(cfg).await?;
    lambda_http::run(router(app, cfg)).await.map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
