//! Purchases read API and sales statistics (per event, per category, platform totals).

use tessera_domain::id::EventId;
use tessera_domain::records::{CategoryStats, Event, EventStats, ExportRow, Overview, Purchase};
use uuid::Uuid;

use tessera_domain::page::parse_limit;
use tessera_domain::validation::ValidationErrors;

use crate::accounts::opt_ts;
use crate::auth::Principal;
use crate::cursor;
use crate::{App, AppError, Result};
use tessera_domain::page::{Page, page_cursor};

impl App {
    /// An event's purchases (its organizer or an admin).
    pub async fn event_purchases(
        &self,
        who: &Principal,
        event_id: EventId,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Purchase>> {
        self.event_for_owner(who, event_id).await?;
        let (limit, after) = page_args(limit, cursor)?;
        let mut items = self.store.purchases_for_event(event_id, after, limit + 1).await?;
        let next_cursor = page_cursor(&mut items, limit, purchase_cursor);
        Ok(Page { items, next_cursor })
    }

    /// The caller's own purchases.
    pub async fn my_purchases(
        &self,
        who: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Purchase>> {
        let (limit, after) = page_args(limit, cursor)?;
        let mut items = self.store.purchases_for_user(who.user_id, after, limit + 1).await?;
        let next_cursor = page_cursor(&mut items, limit, purchase_cursor);
        Ok(Page { items, next_cursor })
    }

    /// Sales of one event (its organizer or an admin).
    pub async fn event_stats(&self, who: &Principal, event_id: EventId) -> Result<(Event, EventStats)> {
        let event = self.event_for_owner(who, event_id).await?;
        let stats = self.store.event_stats(event_id).await?;
        Ok((event, stats))
    }

    /// Accepted entries per UTC hour and gate (its organizer or an admin).
    pub async fn entries_per_hour(
        &self,
        who: &Principal,
        event_id: EventId,
    ) -> Result<Vec<(String, Option<String>, i64)>> {
        self.event_for_owner(who, event_id).await?;
        Ok(self.store.entries_per_hour(event_id).await?)
    }

    /// Every ticket of an event with holder, purchase and door state (its organizer or an admin).
    pub async fn event_export(&self, who: &Principal, event_id: EventId) -> Result<(Event, Vec<ExportRow>)> {
        let event = self.event_for_owner(who, event_id).await?;
        let rows = self.store.export_rows(event_id).await?;
        Ok((event, rows))
    }

    /// Events, tickets and revenue per category for events starting in the range (organizers, admins).
    pub async fn category_stats(
        &self,
        who: &Principal,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<CategoryStats>> {
        if !who.role.can_create_events() {
            return Err(AppError::Forbidden("only organizers and admins may see category statistics"));
        }
        let mut errs = ValidationErrors::new();
        let from = opt_ts(&mut errs, "from", from);
        let to = opt_ts(&mut errs, "to", to);
        if let (Some(a), Some(b)) = (from, to)
            && a > b
        {
            errs.add("to", "must not be before from");
        }
        if !errs.is_empty() {
            return Err(errs.into());
        }
        Ok(self.store.category_stats(from, to).await?)
    }

    /// Platform totals (admins).
    pub async fn overview(&self, who: &Principal) -> Result<Overview> {
        if !who.is_admin() {
            return Err(AppError::Forbidden("only admins may see the overview"));
        }
        Ok(self.store.overview().await?)
    }
}

fn purchase_cursor(p: &Purchase) -> String {
    cursor::encode("purchases", &cursor::ts_value(p.purchase_time), p.purchase_id)
}

fn page_args(
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<(i64, Option<(time::OffsetDateTime, Uuid)>)> {
    let limit = parse_limit(limit).map_err(|m| AppError::invalid("limit", m))?;
    let after = match cursor {
        Some(c) => {
            let (v, id) = cursor::decode(c, "purchases")?;
            Some((cursor::parse_ts_value(&v)?, id))
        }
        None => None,
    };
    Ok((limit, after))
}
