//! Applications: forms for ticket types sold by approval, applying for named guests,
//! and the organizer's approval (tickets issued and e-mailed) or rejection (the reason e-mailed).

use std::collections::BTreeMap;
use tessera_domain::event::EventStatus;
use tessera_domain::id::JobId;
use tessera_domain::id::{ApplicationId, EventId, PurchaseId, ReservationId, TicketId, TicketTypeId};
use tessera_domain::records::{Application, ApplicationStatus, Approval, Event, TicketType};

use tessera_domain::application::{Answer, FormField, check_answers, parse_form, parse_guest_names};
use tessera_domain::booking::on_sale;
use tessera_domain::page::parse_limit;
use tessera_store::StoreError;

use crate::auth::Principal;
use crate::{App, AppError, Result, cursor};
use tessera_domain::page::{Page, page_cursor};

/// An application as sent.
#[derive(Debug, Clone, Default)]
pub struct ApplyInput {
    pub ticket_type_id: Option<TicketTypeId>,
    pub answers: BTreeMap<String, Answer>,
    pub guest_names: Option<Vec<String>>,
}

/// What became of one application in a batch approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    pub application_id: ApplicationId,
    pub result: BatchOutcome,
}

/// What became of one application of a batch approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    Approved,
    Rejected,
    /// Not an application of this event.
    NotFound,
    Forbidden,
    /// Refused with the conflict's code (`not_pending`, `sold_out`, `event_cancelled`, …).
    Refused(&'static str),
}

impl BatchOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchOutcome::Approved => "approved",
            BatchOutcome::Rejected => "rejected",
            BatchOutcome::NotFound => "not_found",
            BatchOutcome::Forbidden => "forbidden",
            BatchOutcome::Refused(code) => code,
        }
    }
}

impl App {
    /// A ticket type of this event that is sold by approval.
    async fn approval_type(&self, event_id: EventId, ticket_type_id: TicketTypeId) -> Result<TicketType> {
        let t = self.store.ticket_type(ticket_type_id).await?.filter(|t| t.event_id == event_id);
        let t = t.ok_or(AppError::NotFound("ticket type"))?;
        if !t.requires_approval {
            return Err(AppError::invalid(
                "ticket_type_id",
                "this ticket type is sold by reservation, not application",
            ));
        }
        Ok(t)
    }

    /// Defines the form of a ticket type sold by approval (the event's organizer or an admin).
    pub async fn set_application_form(
        &self,
        who: &Principal,
        event_id: EventId,
        ticket_type_id: TicketTypeId,
        fields: Vec<FormField>,
    ) -> Result<Vec<FormField>> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may change its forms")
            .await?;
        self.approval_type(event_id, ticket_type_id).await?;
        let fields = parse_form(fields)?;
        let json = serde_json::to_string(&fields).map_err(|e| AppError::internal(e))?;
        self.store.set_application_form(ticket_type_id, &json, self.now()).await?;
        Ok(fields)
    }

    /// A ticket type's form (anyone: applicants need to see it). No form: no questions.
    pub async fn application_form(
        &self,
        event_id: EventId,
        ticket_type_id: TicketTypeId,
    ) -> Result<Vec<FormField>> {
        self.get_event(event_id).await?;
        self.approval_type(event_id, ticket_type_id).await?;
        match self.store.application_form(ticket_type_id).await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| AppError::internal(tessera_domain::context("reading the stored form", e))),
            None => Ok(Vec::new()),
        }
    }

    /// Applies for tickets of a type sold by approval: one ticket per guest name, up to the
    /// type's per-person limit; one live application per person and type.
    pub async fn apply(&self, who: &Principal, event_id: EventId, i: ApplyInput) -> Result<Application> {
        let row = self.check_application(who, event_id, i).await?;
        let tt = self.event_ticket_type(event_id, row.ticket_type_id).await?;
        match self.store.insert_application(&row, tt.per_person_limit).await {
            Ok(true) => Ok(row),
            Ok(false) => {
                let had = self.store.applied_places(row.ticket_type_id, who.user_id).await?;
                Err(AppError::Conflict {
                    code: "per_person_limit",
                    detail: format!(
                        "a person may have {} of this ticket type and you have applied for {had} already",
                        tt.per_person_limit
                    ),
                })
            }
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
                code: "already_applied",
                detail: "you already have an application for this ticket type waiting for a decision".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks an application as `apply` would and answers the application it would file,
    /// without filing it (the pages' confirmation step).
    pub async fn check_application(
        &self,
        who: &Principal,
        event_id: EventId,
        i: ApplyInput,
    ) -> Result<Application> {
        let event = self.get_event(event_id).await?;
        let now = self.now();
        if event.status != EventStatus::Published || event.start_time <= now {
            return Err(AppError::Forbidden("this event is not taking applications"));
        }
        let tt_id = i.ticket_type_id.ok_or_else(|| AppError::invalid("ticket_type_id", "is required"))?;
        let tt = self.approval_type(event_id, tt_id).await.map_err(|e| match e {
            AppError::NotFound(_) => {
                AppError::invalid("ticket_type_id", "is not a ticket type of this event")
            }
            other => other,
        })?;
        if !on_sale(tt.sale_starts_at, tt.sale_ends_at, now) {
            return Err(AppError::Forbidden("applications for this ticket type are not open now"));
        }
        let form = self.application_form(event_id, tt_id).await?;
        let answers = check_answers(&form, &i.answers)?;
        let names = i.guest_names.unwrap_or_default();
        let names = parse_guest_names(&names, i64::from(tt.per_person_limit))
            .map_err(|m| AppError::invalid("guest_names", m))?;
        let row = Application {
            application_id: ApplicationId::new(),
            event_id,
            ticket_type_id: tt_id,
            user_id: who.user_id,
            answers: serde_json::to_string(&answers).map_err(|e| AppError::internal(e))?,
            guest_names: serde_json::to_string(&names).map_err(|e| AppError::internal(e))?,
            quantity: i32::try_from(names.len()).unwrap_or(i32::MAX),
            status: ApplicationStatus::Pending,
            reason: None,
            decided_by: None,
            decided_at: None,
            purchase_id: None,
            created_at: now,
            updated_at: now,
        };
        Ok(row)
    }

    /// How many more places of a ticket type the caller may apply for (its per-person limit
    /// less what they applied for, pending or approved).
    pub async fn places_left_to_apply(&self, who: &Principal, tt: &TicketType) -> Result<i64> {
        let had = self.store.applied_places(tt.ticket_type_id, who.user_id).await?;
        Ok((i64::from(tt.per_person_limit) - had).max(0))
    }

    /// The caller's own applications, newest first (the latest 100).
    pub async fn my_applications(&self, who: &Principal) -> Result<Vec<Application>> {
        Ok(self.store.applications_of_user(who.user_id, 100).await?)
    }

    /// The forms a fixed path such as `/apply/student` stands for: ticket types sold by approval
    /// with that name, of published events still to come, soonest first.
    pub async fn open_forms_named(&self, name: &str) -> Result<Vec<(Event, TicketType)>> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Ok(Vec::new());
        }
        let types = self.store.open_approval_types_named(name, self.now(), 20).await?;
        let mut out = Vec::with_capacity(types.len());
        for t in types {
            out.push((self.get_event(t.event_id).await?, t));
        }
        Ok(out)
    }

    /// A ticket type of an event (anyone may read ticket types).
    pub async fn event_ticket_type(
        &self,
        event_id: EventId,
        ticket_type_id: TicketTypeId,
    ) -> Result<TicketType> {
        let t = self.store.ticket_type(ticket_type_id).await?.filter(|t| t.event_id == event_id);
        t.ok_or(AppError::NotFound("ticket type"))
    }

    /// An application: its applicant's, the event organizer's or an admin's to see.
    pub async fn application(&self, who: &Principal, application_id: ApplicationId) -> Result<Application> {
        let a = self.store.application(application_id).await?.ok_or(AppError::NotFound("application"))?;
        if a.user_id == who.user_id {
            return Ok(a);
        }
        let event = self.get_event(a.event_id).await?;
        if who.owns_or_admin(event.organizer_id) { Ok(a) } else { Err(AppError::NotFound("application")) }
    }

    /// An event's applications, oldest first (its organizer or an admin).
    pub async fn event_applications(
        &self,
        who: &Principal,
        event_id: EventId,
        status: Option<&str>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Application>> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may see its applications")
            .await?;
        let status = status
            .map(str::parse::<ApplicationStatus>)
            .transpose()
            .map_err(|_| AppError::invalid("status", "must be pending, approved or rejected"))?;
        let limit = parse_limit(limit).map_err(|m| AppError::invalid("limit", m))?;
        let after = match cursor {
            Some(c) => Some(cursor::decode(c, "applications")?.1),
            None => None,
        };
        let mut items = self.store.applications_of_event(event_id, status, after, limit + 1).await?;
        let next_cursor =
            page_cursor(&mut items, limit, |a| cursor::encode("applications", "", a.application_id));
        Ok(Page { items, next_cursor })
    }

    async fn decidable(&self, who: &Principal, application_id: ApplicationId) -> Result<Application> {
        let a = self.store.application(application_id).await?.ok_or(AppError::NotFound("application"))?;
        self.owned_event(
            who,
            a.event_id,
            "only the event's organizer or an admin may decide its applications",
        )
        .await?;
        Ok(a)
    }

    /// Approves: issues one ticket per guest (places of the ticket type taken, all or none) and
    /// queues the ticket e-mail.
    pub async fn approve_application(
        &self,
        who: &Principal,
        application_id: ApplicationId,
    ) -> Result<Application> {
        let a = self.decidable(who, application_id).await?;
        if self.get_event(a.event_id).await?.status != EventStatus::Published {
            return Err(AppError::Conflict {
                code: "event_cancelled",
                detail: "the event is cancelled: its applications can only be rejected".into(),
            });
        }
        let ticket_ids: Vec<TicketId> = (0..a.quantity).map(|_| TicketId::new()).collect();
        let ids = (ReservationId::new(), PurchaseId::new(), JobId::new());
        match self
            .store
            .approve_application(application_id, who.user_id, ids, &ticket_ids, self.now())
            .await?
        {
            Approval::Approved { .. } => {
                self.store.application(application_id).await?.ok_or(AppError::NotFound("application"))
            }
            Approval::NotPending => Err(AppError::Conflict {
                code: "not_pending",
                detail: format!("this application is already {}", a.status),
            }),
            Approval::SoldOut => Err(AppError::Conflict {
                code: "sold_out",
                detail: "not enough places of this ticket type are left for the application's guests".into(),
            }),
        }
    }

    /// Rejects with a reason, which is e-mailed to the applicant.
    pub async fn reject_application(
        &self,
        who: &Principal,
        application_id: ApplicationId,
        reason: Option<&str>,
    ) -> Result<Application> {
        let reason = tessera_domain::validation::required_text(reason, 500)
            .map_err(|m| AppError::invalid("reason", m))?;
        let a = self.decidable(who, application_id).await?;
        if !self
            .store
            .reject_application(application_id, who.user_id, &reason, JobId::new(), self.now())
            .await?
        {
            return Err(AppError::Conflict {
                code: "not_pending",
                detail: format!("this application is already {}", a.status),
            });
        }
        self.store.application(application_id).await?.ok_or(AppError::NotFound("application"))
    }

    /// Approves many applications of one event; each answers on its own.
    pub async fn approve_applications(
        &self,
        who: &Principal,
        event_id: EventId,
        ids: &[ApplicationId],
    ) -> Result<Vec<BatchResult>> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may decide its applications")
            .await?;
        if ids.is_empty() || ids.len() > 500 {
            return Err(AppError::invalid("application_ids", "give between 1 and 500 ids"));
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let belongs = self.store.application(*id).await?.is_some_and(|a| a.event_id == event_id);
            let result = if !belongs {
                BatchOutcome::NotFound
            } else {
                match self.approve_application(who, *id).await {
                    Ok(_) => BatchOutcome::Approved,
                    Err(AppError::Conflict { code, .. }) => BatchOutcome::Refused(code),
                    Err(AppError::Forbidden(_)) => BatchOutcome::Forbidden,
                    Err(e) => return Err(e),
                }
            };
            out.push(BatchResult { application_id: *id, result });
        }
        Ok(out)
    }

    /// Rejects many applications of one event with one reason; each answers on its own (one
    /// of another event is not touched).
    pub async fn reject_applications(
        &self,
        who: &Principal,
        event_id: EventId,
        ids: &[ApplicationId],
        reason: Option<&str>,
    ) -> Result<Vec<BatchResult>> {
        self.owned_event(who, event_id, "only the event's organizer or an admin may decide its applications")
            .await?;
        if ids.is_empty() || ids.len() > 500 {
            return Err(AppError::invalid("application_ids", "give between 1 and 500 ids"));
        }
        tessera_domain::validation::required_text(reason, 500).map_err(|m| AppError::invalid("reason", m))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let belongs = self.store.application(*id).await?.is_some_and(|a| a.event_id == event_id);
            let result = if !belongs {
                BatchOutcome::NotFound
            } else {
                match self.reject_application(who, *id, reason).await {
                    Ok(_) => BatchOutcome::Rejected,
                    Err(AppError::Conflict { code, .. }) => BatchOutcome::Refused(code),
                    Err(AppError::Forbidden(_)) => BatchOutcome::Forbidden,
                    Err(e) => return Err(e),
                }
            };
            out.push(BatchResult { application_id: *id, result });
        }
        Ok(out)
    }
}
