//! The virtual waiting room: `/events/{id}/queue`, `/queue/status`, and the concert-reservation
//! path `/queue/token`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tessera_domain::id::{EventId, QueueEntryId};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tessera_app::queue::{QueueInfo, QueueSettingsInput, QueueView};

use crate::AppState;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, ClientIp, path_id};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_queue, get_queue, join_queue))
        .routes(routes!(get_queue_status))
        .routes(routes!(create_queue_token))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct QueueSettingsRequest {
    /// Switch the waiting room on (default when first configured) or off.
    pub enabled: Option<bool>,
    /// Buyers admitted per minute (default 60).
    pub admission_rate_per_minute: Option<i64>,
    /// Most buyers admitted at once (default 100).
    pub max_admitted: Option<i64>,
    /// How long an admission lasts, in seconds (default 300).
    pub admission_window_seconds: Option<i64>,
    /// A scheduled opening (RFC 3339, before the event starts): buyers may join before it and are
    /// told when their turn is likely to come; nobody is admitted until it. `null` removes it
    /// (admission runs at once); leaving it out keeps the current one.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub opens_at: Option<Option<String>>,
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or set: serde folds the first two.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueInfoBody {
    pub event_id: EventId,
    pub enabled: bool,
    pub admission_rate_per_minute: i32,
    pub max_admitted: i32,
    pub admission_window_seconds: i32,
    /// Highest position admitted so far.
    pub serving_position: i32,
    pub waiting: i64,
    /// Admissions live now.
    pub admitted: i64,
    /// The scheduled opening, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub opens_at: Option<OffsetDateTime>,
    /// Places still on sale when last counted (the admission job counts every two seconds; null
    /// before its first count).
    pub places_left: Option<i32>,
}

impl From<QueueInfo> for QueueInfoBody {
    fn from(q: QueueInfo) -> Self {
        QueueInfoBody {
            event_id: q.state.event_id,
            enabled: q.state.enabled,
            admission_rate_per_minute: q.state.rate_per_min,
            max_admitted: q.state.max_active,
            admission_window_seconds: q.state.window_secs,
            serving_position: q.state.serving_position,
            waiting: q.waiting,
            admitted: q.admitted,
            opens_at: q.state.opens_at,
            places_left: q.state.places_left,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStatusBody {
    pub entry_id: QueueEntryId,
    pub event_id: EventId,
    /// Send this as `X-Queue-Token` to poll and, once admitted, to reserve.
    pub queue_token: String,
    pub queue_position: i32,
    /// Buyers ahead (an estimate).
    pub ahead: i64,
    /// Estimated wait in seconds (0 once admitted), at the pace the line has been moving (the
    /// configured admission rate until admissions have been observed).
    pub wait_time: i64,
    /// While waiting: seconds until the next poll is worth making (1 near the front, up to 60
    /// far back, up to 300 beyond the places left, and never more than half the admission window;
    /// `poll_after_ms` rounded up); null once admitted or ended.
    pub poll_after_seconds: Option<i64>,
    /// The same in milliseconds, for clients that can wait precisely: near the opening each
    /// buyer is sent back for the admission tick after their estimated turn (500 ms at least
    /// once the line is open, up to 60,000 far back, up to 300,000 beyond the places left, at
    /// most half the admission window); null once admitted or ended.
    pub poll_after_ms: Option<i64>,
    /// While waiting: more buyers wait ahead than there are places left, so the sale will likely
    /// sell out first (unless those ahead leave or holds lapse); polls are then asked for every
    /// half admission window (at most every 5 minutes).
    pub beyond_places_left: bool,
    /// Places still on sale when last counted (the admission job counts every two seconds; null
    /// before its first count).
    pub places_left: Option<i32>,
    /// The scheduled opening, if any: nobody is admitted before it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub opens_at: Option<OffsetDateTime>,
    /// waiting, admitted, done or expired.
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub admitted_at: Option<OffsetDateTime>,
    /// Reserve before this.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<QueueView> for QueueStatusBody {
    fn from(v: QueueView) -> Self {
        QueueStatusBody {
            entry_id: v.entry.entry_id,
            event_id: v.entry.event_id,
            queue_token: v.queue_token,
            queue_position: v.entry.queue_position,
            ahead: v.ahead,
            wait_time: v.wait_secs,
            poll_after_seconds: v.poll_after_secs,
            poll_after_ms: v.poll_after_ms,
            beyond_places_left: v.beyond_places,
            places_left: v.places_left,
            opens_at: v.opens_at,
            status: v.entry.status.to_string(),
            admitted_at: v.entry.admitted_at,
            expires_at: v.entry.expires_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The queue token (or send it as the X-Queue-Token header).
    pub token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct QueueTokenRequest {
    /// The event (also accepted as concert_id).
    #[serde(alias = "concert_id")]
    pub event_id: Option<EventId>,
}

/// The `X-Queue-Token` header.
pub(crate) fn queue_token_header(h: &HeaderMap) -> Option<String> {
    h.get("x-queue-token").and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn joined(v: QueueView) -> (StatusCode, Json<QueueStatusBody>) {
    let status = if v.created { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(v.into()))
}

/// Configure an event's waiting room (its organizer or an admin)
#[utoipa::path(put, path = "/events/{event_id}/queue", tag = "queue", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")), request_body = QueueSettingsRequest,
    responses(
        (status = 200, body = QueueInfoBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_queue(
    State(s): State<AppState>,
    Auth(who): Auth,
    Path(event_id): Path<String>,
    ApiJson(b): ApiJson<QueueSettingsRequest>,
) -> ApiResult<Json<QueueInfoBody>> {
    let id = path_id(&event_id, "event")?;
    let input = QueueSettingsInput {
        enabled: b.enabled,
        admission_rate_per_minute: b.admission_rate_per_minute,
        max_admitted: b.max_admitted,
        admission_window_seconds: b.admission_window_seconds,
        opens_at: b.opens_at,
    };
    Ok(Json(s.app.set_queue(&who, id, input).await?.into()))
}

/// An event's waiting room: settings and live counts
#[utoipa::path(get, path = "/events/{event_id}/queue", tag = "queue",
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 200, body = QueueInfoBody),
        (status = 404, description = "No such event, or it never had a queue", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_queue(
    State(s): State<AppState>,
    Path(event_id): Path<String>,
) -> ApiResult<Json<QueueInfoBody>> {
    let id = path_id(&event_id, "event")?;
    Ok(Json(s.app.queue_info(id).await?.into()))
}

/// Join an event's waiting room
///
/// 201 with a signed queue token, the position, how many are ahead and the estimated wait;
/// joining again answers the same entry (200). Rate-limited per account and per address.
#[utoipa::path(post, path = "/events/{event_id}/queue", tag = "queue", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Event id (UUID)")),
    responses(
        (status = 201, body = QueueStatusBody),
        (status = 200, description = "Already in the queue", body = QueueStatusBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not on sale", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event or no queue", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn join_queue(
    State(s): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    Path(event_id): Path<String>,
) -> ApiResult<(StatusCode, Json<QueueStatusBody>)> {
    let id = path_id(&event_id, "event")?;
    Ok(joined(s.app.join_queue(&who, Some(id), &ip).await?))
}

/// Where a queue token's holder stands (cheap: reads only)
#[utoipa::path(get, path = "/queue/status", tag = "queue",
    params(TokenQuery, ("X-Queue-Token" = Option<String>, Header, description = "The queue token")),
    responses(
        (status = 200, body = QueueStatusBody),
        (status = 401, description = "No token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Invalid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_queue_status(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> ApiResult<Json<QueueStatusBody>> {
    let token = queue_token_header(&headers).or(q.token);
    Ok(Json(s.app.queue_status(token.as_deref()).await?.into()))
}

/// Join a concert's waiting queue and get a token (as POST /events/{event_id}/queue)
///
/// A concert without a waiting room answers 201 with a token that is admitted at once (status
/// `admitted`, position 0), so the token → status → reserve flow works on every concert.
#[utoipa::path(post, path = "/queue/token", tag = "concerts", security(("bearer" = [])),
    request_body = QueueTokenRequest,
    responses(
        (status = 201, description = "Joined, or admitted at once when there is no waiting room", body = QueueStatusBody),
        (status = 200, description = "Already in the queue", body = QueueStatusBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_queue_token(
    State(s): State<AppState>,
    Auth(who): Auth,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<QueueTokenRequest>,
) -> ApiResult<(StatusCode, Json<QueueStatusBody>)> {
    Ok(joined(s.app.queue_token_for(&who, b.event_id, &ip).await?))
}
