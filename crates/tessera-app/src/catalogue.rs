//! The event catalogue: create, read, list with filters and cursors, change, cancel, categories.

use tessera_domain::id::{EventId, JobId, UserId};
use tessera_domain::records::{Event, EventFilter, SortValue};

use tessera_domain::Money;
use tessera_domain::clock::format_ts;
use tessera_domain::event::{EventFields, EventInput, EventSort, EventSortKey, EventStatus};
use tessera_domain::page::parse_limit;
use tessera_domain::validation::ValidationErrors;

use crate::accounts::opt_ts;
use crate::auth::Principal;
use crate::cursor;
use crate::{App, AppError, Result};
use tessera_domain::page::{Page, page_cursor};

/// An event list's query as received (`GET /events`): text, checked by [`App::list_events`]
/// into the domain's `EventFilter`, so one bad parameter names itself in the answer.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct EventQuery {
    /// Exact category, e.g. "music".
    pub category: Option<String>,
    /// Organizer name (case-insensitive, exact).
    pub organizer: Option<String>,
    /// The owning account's id.
    pub organizer_id: Option<String>,
    /// Text in the location.
    pub location: Option<String>,
    /// Text in the name or description.
    pub q: Option<String>,
    /// Events starting at or after this RFC 3339 time.
    pub start_from: Option<String>,
    /// Events starting at or before this RFC 3339 time.
    pub start_to: Option<String>,
    /// Minimum price (decimal); free events count as 0.
    pub price_min: Option<String>,
    pub price_max: Option<String>,
    /// published (default), cancelled or all.
    pub status: Option<String>,
    /// general or seated.
    pub seating: Option<String>,
    /// start_time (default), created_at or price; prefix '-' for descending.
    pub sort: Option<String>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A change to an event: `None` keeps a field, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct EventPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub start_time: Option<String>,
    pub end_time: Option<Option<String>>,
    pub organizer: Option<String>,
    pub category: Option<Option<String>>,
    pub price: Option<Option<String>>,
    pub currency: Option<String>,
    pub max_attendees: Option<Option<i64>>,
    pub url: Option<Option<String>>,
    pub hold_seconds: Option<i64>,
    pub max_per_person: Option<i64>,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

impl App {
    /// Moves after every change to the catalogue made by this instance (see
    /// `Store::catalogue_version`): read it before the rows an answer is built from.
    pub fn catalogue_version(&self) -> u64 {
        self.store.catalogue_version()
    }

    pub async fn get_event(&self, event_id: EventId) -> Result<Event> {
        self.store.event_by_id(event_id).await?.ok_or(AppError::NotFound("event"))
    }

    /// The event as read at most `recent::TTL` ago on this instance (the checks before a hold:
    /// a change made a moment ago answers as it would have a moment earlier).
    pub(crate) async fn recent_event(&self, event_id: EventId) -> Result<Event> {
        if let Some(e) = self.events.get(event_id) {
            return Ok(e);
        }
        let e = self.get_event(event_id).await?;
        self.events.put(event_id, e.clone());
        Ok(e)
    }

    /// Lists events by the filters, in a stable order, one page at a time.
    pub async fn list_events(&self, q: &EventQuery) -> Result<Page<Event>> {
        let mut errs = ValidationErrors::new();
        let limit = errs.check("limit", parse_limit(q.limit));
        let sort = match q.sort.as_deref() {
            Some(s) => errs.check("sort", s.parse::<EventSort>()),
            None => Some(EventSort::default()),
        };
        let status = match q.status.as_deref().map(str::trim) {
            None | Some("") => Some(EventStatus::Published),
            Some("all") => None,
            Some(s) => errs.check(
                "status",
                s.parse::<EventStatus>().map_err(|_| "must be published, cancelled or all".to_string()),
            ),
        };
        let organizer_id = match q.organizer_id.as_deref() {
            Some(s) => errs
                .check("organizer_id", s.trim().parse::<UserId>().map_err(|_| "must be a UUID".to_string())),
            None => None,
        };
        let seating = match q.seating.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => errs.check("seating", s.parse::<tessera_domain::booking::Seating>()),
        };
        let start_from = opt_ts(&mut errs, "start_from", q.start_from.as_deref());
        let start_to = opt_ts(&mut errs, "start_to", q.start_to.as_deref());
        let price_min = q.price_min.as_deref().and_then(|p| errs.check("price_min", Money::parse(p)));
        let price_max = q.price_max.as_deref().and_then(|p| errs.check("price_max", Money::parse(p)));
        if let (Some(a), Some(b)) = (start_from, start_to)
            && a > b
        {
            errs.add("start_to", "must not be before start_from");
        }
        if let (Some(a), Some(b)) = (price_min, price_max)
            && a > b
        {
            errs.add("price_max", "must not be below price_min");
        }
        let (Some(limit), Some(sort)) = (limit, sort) else { return Err(errs.into()) };
        if !errs.is_empty() {
            return Err(errs.into());
        }
        let kind = sort_kind(sort);
        let after = match q.cursor.as_deref() {
            Some(c) => {
                let (v, id) = cursor::decode(c, kind)?;
                let value = match sort.key {
                    EventSortKey::Price => SortValue::Int(
                        v.parse()
                            .map_err(|_| AppError::invalid("cursor", "is not a cursor from this list"))?,
                    ),
                    _ => SortValue::Ts(cursor::parse_ts_value(&v)?),
                };
                Some((value, id))
            }
            None => None,
        };
        let filter = EventFilter {
            category: non_empty(&q.category),
            organizer: non_empty(&q.organizer),
            organizer_id,
            location: non_empty(&q.location),
            q: non_empty(&q.q),
            start_from,
            start_to,
            price_min: price_min.map(Money::minor),
            price_max: price_max.map(Money::minor),
            status,
            seating,
            sort,
            after,
            limit: limit + 1,
        };
        let mut items = self.store.list_events(&filter).await?;
        let next_cursor = page_cursor(&mut items, limit, |e| {
            let v = match sort.key {
                EventSortKey::StartTime => cursor::ts_value(e.start_time),
                EventSortKey::CreatedAt => cursor::ts_value(e.created_at),
                EventSortKey::Price => e.price.unwrap_or(0).to_string(),
            };
            cursor::encode(kind, &v, e.event_id)
        });
        Ok(Page { items, next_cursor })
    }

    /// Changes an event (its organizer or an admin); the result is validated as a whole.
    pub async fn patch_event(&self, who: &Principal, event_id: EventId, patch: EventPatch) -> Result<Event> {
        let current = self.get_event(event_id).await?;
        if !who.owns_or_admin(current.organizer_id) {
            return Err(AppError::Forbidden("only the event's organizer or an admin may change it"));
        }
        let input = merge(&current, patch);
        let f = EventFields::parse(&input, &current.organizer)?;
        let row =
            fields_to_row(event_id, current.organizer_id, &f, current.status, current.created_at, self.now());
        let updated = self.store.update_event(&row).await?.ok_or(AppError::NotFound("event"));
        self.events.forget(event_id);
        updated
    }

    /// Cancels an event (`DELETE`): it stays readable with status `cancelled`. Its pending holds
    /// end and its tickets are voided at once; a job refunds every purchase to its buyer's
    /// wallet and e-mails them (see `jobs`).
    pub async fn cancel_event(&self, who: &Principal, event_id: EventId) -> Result<Event> {
        let current = self.get_event(event_id).await?;
        if !who.owns_or_admin(current.organizer_id) {
            return Err(AppError::Forbidden("only the event's organizer or an admin may cancel it"));
        }
        self.store.cancel_event(event_id, JobId::new(), self.now()).await?;
        self.events.forget(event_id);
        self.get_event(event_id).await
    }

    /// Categories with their number of published events.
    pub async fn categories(&self) -> Result<Vec<(String, i64)>> {
        Ok(self.store.categories().await?)
    }

    /// The event, if `who` may see its sales (purchases and statistics): its organizer or an admin.
    pub(crate) async fn event_for_owner(&self, who: &Principal, event_id: EventId) -> Result<Event> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may see its sales").await
    }

    /// The event, when `who` is its organizer or an admin; otherwise 403 saying `forbidden`.
    pub(crate) async fn owned_event(
        &self,
        who: &Principal,
        event_id: EventId,
        forbidden: &'static str,
    ) -> Result<Event> {
        let event = self.get_event(event_id).await?;
        if who.owns_or_admin(event.organizer_id) { Ok(event) } else { Err(AppError::Forbidden(forbidden)) }
    }
}

fn sort_kind(sort: EventSort) -> &'static str {
    match (sort.key, sort.descending) {
        (EventSortKey::StartTime, false) => "start_time",
        (EventSortKey::StartTime, true) => "-start_time",
        (EventSortKey::CreatedAt, false) => "created_at",
        (EventSortKey::CreatedAt, true) => "-created_at",
        (EventSortKey::Price, false) => "price",
        (EventSortKey::Price, true) => "-price",
    }
}

/// Turns validated fields into a row.
pub fn fields_to_row(
    event_id: EventId,
    organizer_id: Option<UserId>,
    f: &EventFields,
    status: EventStatus,
    created_at: time::OffsetDateTime,
    updated_at: time::OffsetDateTime,
) -> Event {
    Event {
        event_id,
        name: f.name.clone(),
        description: f.description.clone(),
        location: f.location.clone(),
        start_time: f.start_time,
        end_time: f.end_time,
        organizer: f.organizer.clone(),
        organizer_id,
        category: f.category.clone(),
        price: f.price.map(Money::minor),
        currency: f.currency.clone(),
        max_attendees: f.max_attendees.and_then(|n| i32::try_from(n).ok()),
        url: f.url.clone(),
        status,
        seating: f.seating,
        hold_secs: i32::try_from(f.hold_secs).unwrap_or(300),
        max_per_person: i32::try_from(f.max_per_person).unwrap_or(10),
        created_at,
        updated_at,
    }
}

/// The current event as raw input with the patch laid over it.
fn merge(c: &Event, p: EventPatch) -> EventInput {
    EventInput {
        name: Some(p.name.unwrap_or_else(|| c.name.clone())),
        description: p.description.unwrap_or_else(|| c.description.clone()),
        location: p.location.unwrap_or_else(|| c.location.clone()),
        start_time: Some(p.start_time.unwrap_or_else(|| format_ts(c.start_time))),
        end_time: p.end_time.unwrap_or_else(|| c.end_time.map(format_ts)),
        organizer: Some(p.organizer.unwrap_or_else(|| c.organizer.clone())),
        category: p.category.unwrap_or_else(|| c.category.clone()),
        price: p.price.unwrap_or_else(|| c.price.map(|m| Money::from_minor(m).to_string())),
        currency: Some(p.currency.unwrap_or_else(|| c.currency.clone())),
        max_attendees: p.max_attendees.unwrap_or_else(|| c.max_attendees.map(i64::from)),
        url: p.url.unwrap_or_else(|| c.url.clone()),
        seating: Some(c.seating.as_str().to_string()),
        hold_seconds: Some(p.hold_seconds.unwrap_or(i64::from(c.hold_secs))),
        max_per_person: Some(p.max_per_person.unwrap_or(i64::from(c.max_per_person))),
    }
}
