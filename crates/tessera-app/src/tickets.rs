//! Tickets as holders see them: their own list, one ticket with its signed code.

use tessera_domain::id::{JobId, TicketId};
use tessera_domain::records::TicketDetail;
use tessera_domain::records::TicketStatus;

use tessera_domain::page::parse_limit;

use crate::auth::Principal;
use crate::ticket_codes::may_see;
use crate::{App, AppError, Result, cursor};
use tessera_domain::page::{Page, page_cursor};

/// A ticket and its code (`None` for a voided ticket: it has no code worth showing).
#[derive(Debug, Clone)]
pub struct TicketView {
    pub ticket: TicketDetail,
    pub code: Option<String>,
}

impl App {
    async fn view(&self, t: TicketDetail) -> Result<TicketView> {
        let code = if t.status == TicketStatus::Valid { Some(self.ticket_code(&t).await?) } else { None };
        Ok(TicketView { ticket: t, code })
    }

    /// One ticket: its holder's, its event organizer's, or an admin's to see; 404 for anyone
    /// else (they may not learn it exists).
    pub async fn ticket(&self, who: &Principal, ticket_id: TicketId) -> Result<TicketView> {
        let t = self.store.ticket_detail(ticket_id).await?.filter(|t| may_see(who, t));
        self.view(t.ok_or(AppError::NotFound("ticket"))?).await
    }

    /// Reissues a ticket (its holder, the event's organizer, an admin): the old code stops
    /// opening the door at once, and the new ticket is e-mailed.
    pub async fn reissue_ticket(&self, who: &Principal, ticket_id: TicketId) -> Result<TicketView> {
        let t = self.store.ticket_detail(ticket_id).await?.filter(|t| may_see(who, t));
        let t = t.ok_or(AppError::NotFound("ticket"))?;
        let new_id = TicketId::new();
        if !self.store.reissue_ticket(t.ticket_id, new_id, JobId::new(), self.now()).await? {
            return Err(AppError::TicketVoid("this ticket is void: it cannot be reissued"));
        }
        let fresh = self.store.ticket_detail(new_id).await?.ok_or(AppError::NotFound("ticket"))?;
        self.view(fresh).await
    }

    /// The caller's tickets, newest first.
    pub async fn my_tickets(
        &self,
        who: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<TicketView>> {
        let limit = parse_limit(limit).map_err(|m| AppError::invalid("limit", m))?;
        let before = match cursor {
            Some(c) => Some(cursor::decode(c, "tickets")?.1),
            None => None,
        };
        let mut rows = self.store.tickets_of_user(who.user_id, before, limit + 1).await?;
        let next_cursor = page_cursor(&mut rows, limit, |t| cursor::encode("tickets", "", t.ticket_id));
        let mut items = Vec::with_capacity(rows.len());
        for t in rows {
            items.push(self.view(t).await?);
        }
        Ok(Page { items, next_cursor })
    }
}
