//! `tessera lambda`: the same router behind API Gateway (HTTP API v2 or REST), via lambda_http.

use tessera_http::AppState;

use crate::config::Config;

/// Runs the Lambda event loop. Behind API Gateway the client address comes from X-Forwarded-For.
pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    let app = crate::build_app(cfg).await?;
    let state = AppState { trust_forwarded_for: true, ..crate::serve::state(app, cfg) };
    let router = tessera_http::router(state);
    lambda_http::run(router).await.map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
