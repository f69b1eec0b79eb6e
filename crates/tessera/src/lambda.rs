//! `tessera lambda`: the same router behind API Gateway (HTTP API v2 or REST), via lambda_http,
//! and the background jobs when EventBridge Scheduler invokes the function with
//! `{"tessera_job": NAME}` (or an EventBridge rule's scheduled event carries it in `detail`).

use std::time::Duration;

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, LambdaEvent, Service};
use serde_json::{Value, json};
use tessera_app::App;
use tessera_http::{AppState, Shared};

use crate::config::Config;
use crate::jobs::{self, Job};

/// The longest an `admission` run keeps ticking (the function's timeout is 60 s).
const ADMISSION_BUDGET: Duration = Duration::from_secs(50);
/// Time kept back before the invocation's deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The router as Lambda serves it. The client address is the source IP in API Gateway's request
/// context: `X-Forwarded-For` is not read (its leftmost entry is the client's to write).
pub fn router(app: App, cfg: &Config) -> axum::Router {
    let inner = tessera_http::router(AppState::new(Shared {
        trusted_proxies: tessera_http::client_addr::TrustedProxies::None,
        // API Gateway serves HTTPS only.
        secure_cookies: true,
        answers: Default::default(),
        ..crate::serve::shared(app, cfg)
    }));
    // Before routing: the path must lose its stage first.
    let outer = axum::middleware::from_fn(from_api_gateway);
    axum::Router::new().fallback_service(tower::Layer::layer(&outer, inner))
}

/// Puts API Gateway's source IP where the client-address extractor looks first, and takes a
/// named stage off the path: through a stage `prod`, `/prod/events` is `/events` (lambda_http
/// puts the stage into the path; the `$default` stage has none).
async fn from_api_gateway(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let (ip, stage) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => (c.http.source_ip.clone(), c.stage.clone()),
        Some(RequestContext::ApiGatewayV1(c)) => (c.identity.source_ip.clone(), c.stage.clone()),
        _ => (None, None),
    };
    if let Some(ip) = ip.and_then(|ip| ip.parse().ok()) {
        req.extensions_mut().insert(tessera_http::client_addr::SourceAddr(ip));
    }
    if let Some(stage) = stage.filter(|s| s != "$default")
        && let Some(uri) = without_stage(req.uri(), &stage)
    {
        *req.uri_mut() = uri;
    }
    next.run(req).await
}

/// The URI without a leading `/{stage}` segment (`None` when it has none).
fn without_stage(uri: &axum::http::Uri, stage: &str) -> Option<axum::http::Uri> {
    let rest = uri.path().strip_prefix('/')?.strip_prefix(stage)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let with_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(with_query.parse().ok()?);
    axum::http::Uri::from_parts(parts).ok()
}

/// The job a scheduled invocation names: EventBridge Scheduler's input `{"tessera_job": "…"}`,
/// or an EventBridge rule's `{"detail-type": "Scheduled Event", "detail": {"tessera_job": "…"}}`.
/// `None` for anything else (an HTTP request).
pub fn scheduled_job(payload: &Value) -> Option<Result<Job, String>> {
    let named = payload.get("tessera_job").or_else(|| {
        (payload.get("detail-type")? == "Scheduled Event")
            .then(|| payload.get("detail")?.get("tessera_job"))?
    })?;
    Some(match named.as_str() {
        Some(name) => name.parse(),
        None => Err("tessera_job must be a job's name".into()),
    })
}

/// Answers one invocation: a scheduled job's report, or API Gateway's response to a request.
pub async fn handle(
    app: &App,
    router: &axum::Router,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_http::Error> {
    let LambdaEvent { payload, context } = event;
    if let Some(job) = scheduled_job(&payload) {
        let job = job?;
        let left = context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
        let budget = ADMISSION_BUDGET.min(left.saturating_sub(DEADLINE_MARGIN));
        let report = jobs::run(app, job, budget, 1000).await.map_err(|e| e.to_string())?;
        tracing::info!(job = report.job, done = report.done, passes = report.passes, "scheduled job ran");
        return Ok(json!(report));
    }
    let request: LambdaRequest = serde_json::from_value(payload)?;
    let mut adapter = Adapter::from(router.clone());
    let response = adapter.call(LambdaEvent::new(request, context)).await?;
    Ok(serde_json::to_value(response)?)
}

/// Runs the Lambda event loop.
pub async fn run(cfg: &Config) -> anyhow::Result<()> {
    let app = crate::build_app(cfg).await?;
    let router = router(app.clone(), cfg);
    let handler = lambda_http::service_fn(|event: LambdaEvent<Value>| {
        let (app, router) = (app.clone(), router.clone());
        async move { handle(&app, &router, event).await }
    });
    lambda_http::lambda_runtime::run(handler).await.map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_invocations_name_their_job() {
        assert_eq!(scheduled_job(&json!({"tessera_job": "admission"})), Some(Ok(Job::Admission)));
        let rule = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {"tessera_job": "holds"}});
        assert_eq!(scheduled_job(&rule), Some(Ok(Job::Holds)));
        assert!(matches!(scheduled_job(&json!({"tessera_job": "mail"})), Some(Err(_))));
        assert!(matches!(scheduled_job(&json!({"tessera_job": 3})), Some(Err(_))));
        assert_eq!(scheduled_job(&json!({"version": "2.0", "rawPath": "/events"})), None);
        assert_eq!(scheduled_job(&json!({"detail-type": "Other", "detail": {"tessera_job": "jobs"}})), None);
    }

    #[test]
    fn a_named_stage_comes_off_the_path() {
        let uri = |s: &str| s.parse::<axum::http::Uri>().unwrap();
        assert_eq!(without_stage(&uri("/prod/events?limit=2"), "prod"), Some(uri("/events?limit=2")));
        assert_eq!(without_stage(&uri("/prod"), "prod"), Some(uri("/")));
        assert_eq!(without_stage(&uri("/production/events"), "prod"), None);
        assert_eq!(without_stage(&uri("/events"), "prod"), None);
    }
}
