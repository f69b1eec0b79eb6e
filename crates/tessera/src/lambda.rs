//! `tessera lambda`: the same router behind API Gateway (HTTP API v2 or REST), via lambda_http.

use tessera_app::App;
use tessera_http::{AppState, Shared};

use crate::config::Config;

/// The router as Lambda serves it: behind API Gateway the client address is X-Forwarded-For.
pub fn router(app: App, cfg: &Config) -> axum::Router {
    tessera_http::router(AppState::new(Shared {
        trust_forwarded_for: true,
        ..crate::serve::shared(app, cfg)
    }))
}

/// Runs the Lambda event loop.
pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    let app = crate::build_app(cfg).await?;
    lambda_http::run(router(app, cfg)).await.map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
