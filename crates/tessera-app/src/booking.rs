//! Booking: ticket types, seat maps, and holds (reservations).

use tessera_domain::booking::Seating;
use tessera_domain::event::EventStatus;
use tessera_domain::id::{EventId, ReservationId, TicketTypeId};
use tessera_domain::records::{
    Event, HoldCommand, HoldLimits, HoldOutcome, HoldRequest, Reservation, Seat, SeatBlock, SeatStatus,
    TicketType, TicketTypeView,
};
use uuid::Uuid;

use tessera_domain::booking::{
    SeatMapInput, TicketTypeFields, TicketTypeInput, near_seat_misuse, on_sale, parse_seat_map,
    parse_seat_numbers,
};
use tessera_domain::event::EventInput;
use tessera_domain::validation::ValidationErrors;
use tessera_domain::{Money, event::EventFields};
use tessera_store::StoreError;

use crate::auth::Principal;
use crate::catalogue::fields_to_row;
use crate::{App, AppError, Result};
use tessera_domain::page::Page;

/// A hold request as received.
#[derive(Debug, Clone, Default)]
pub struct ReserveInput {
    pub event_id: Option<EventId>,
    pub seat_numbers: Option<Vec<i64>>,
    pub ticket_type_id: Option<TicketTypeId>,
    pub quantity: Option<i64>,
    /// Seated events, with `quantity`: the best available seats nearest this seat number.
    pub near_seat: Option<i64>,
    /// Required while the event's waiting room is on: a token whose entry is admitted.
    pub queue_token: Option<String>,
}

/// A reservation with the seats it holds.
#[derive(Debug, Clone)]
pub struct ReservationView {
    pub reservation: Reservation,
    pub seat_numbers: Vec<i64>,
}

/// A ticket-type change: `None` keeps a field, `Some(None)` clears a sale-window bound.
#[derive(Debug, Clone, Default)]
pub struct TicketTypePatch {
    pub name: Option<String>,
    pub price: Option<String>,
    pub quota: Option<i64>,
    pub per_person_limit: Option<i64>,
    pub sale_starts_at: Option<Option<String>>,
    pub sale_ends_at: Option<Option<String>>,
    pub requires_approval: Option<bool>,
    pub allow_reentry: Option<bool>,
}

pub const SEAT_PAGE_DEFAULT: i64 = 100;
pub const SEAT_PAGE_MAX: i64 = 1000;

impl App {
    /// Creates an event owned by the caller (organizers and admins); a seated event gets its
    /// seat map in the same transaction.
    pub async fn create_event(
        &self,
        who: &Principal,
        input: &EventInput,
        seats: &SeatMapInput,
    ) -> Result<Event> {
        if !who.role.can_create_events() {
            return Err(AppError::Forbidden("only organizers and admins may create events"));
        }
        let owner =
            self.store.user_by_id(who.user_id).await?.ok_or(AppError::Unauthorized("account is gone"))?;
        let f = EventFields::parse(input, &owner.name);
        let seated = input.seating.as_deref().and_then(|s| s.parse().ok()) == Some(Seating::Seated);
        let map = if seated { Some(parse_seat_map(seats)) } else { None };
        let (f, map) = match (f, map) {
            (Ok(f), None) => (f, None),
            (Ok(f), Some(Ok(m))) => (f, Some(m)),
            (Err(mut a), Some(Err(b))) => {
                a.0.extend(b.0);
                return Err(a.into());
            }
            (Err(a), _) | (_, Some(Err(a))) => return Err(a.into()),
        };
        if !seated && (seats.seat_count.is_some() || seats.sections.is_some()) {
            return Err(AppError::invalid("seating", "must be seated to give seat_count or sections"));
        }
        let now = self.now();
        let row = fields_to_row(EventId::new(), Some(who.user_id), &f, EventStatus::Published, now, now);
        match map {
            Some(sections) => {
                let mut next = 1;
                let blocks: Vec<SeatBlock> = sections
                    .into_iter()
                    .map(|s| {
                        let b = SeatBlock {
                            first_number: next,
                            section: s.name.clone(),
                            rows: s.rows,
                            seats_per_row: s.seats_per_row,
                            price: s.price.or(f.price).map(Money::minor).unwrap_or(0),
                        };
                        next += s.seats();
                        b
                    })
                    .collect();
                self.store.create_event_with_seats(&row, &blocks).await?;
            }
            None => self.store.insert_event(&row).await?,
        }
        Ok(row)
    }

    /// A page of a seated event's seats (expired holds show as available).
    pub async fn list_seats(
        &self,
        event_id: EventId,
        status: Option<&str>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Seat>> {
        let event = self.get_event(event_id).await?;
        let mut errs = ValidationErrors::new();
        let status = match status.map(str::trim) {
            None | Some("") => None,
            Some(s) => match s.parse::<SeatStatus>() {
                Ok(s) => Some(s),
                Err(_) => {
                    errs.add("status", "must be available, held or sold");
                    None
                }
            },
        };
        let limit = match limit {
            None => SEAT_PAGE_DEFAULT,
            Some(n) if (1..=SEAT_PAGE_MAX).contains(&n) => n,
            Some(_) => {
                errs.add("limit", format!("must be between 1 and {SEAT_PAGE_MAX}"));
                0
            }
        };
        let after = match cursor {
            Some(c) => crate::cursor::decode::<Uuid>(c, "seats")?.0.parse::<i64>().map_err(|_| {
                AppError::invalid("cursor", "is not a cursor from this list; start again without it")
            })?,
            None => 0,
        };
        if !errs.is_empty() {
            return Err(errs.into());
        }
        if event.seating != Seating::Seated {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        }
        let mut items = self.store.list_seats(event_id, status, after, limit + 1, self.now()).await?;
        let next_cursor = tessera_domain::page::page_cursor(&mut items, limit, |s| {
            crate::cursor::encode("seats", &s.seat_number.to_string(), Uuid::nil())
        });
        Ok(Page { items, next_cursor })
    }

    /// Adds a ticket type (with its quota of places) to an event (its organizer or an admin).
    pub async fn create_ticket_type(
        &self,
        who: &Principal,
        event_id: EventId,
        input: &TicketTypeInput,
    ) -> Result<TicketTypeView> {
        let event = self.get_event(event_id).await?;
        if !who.owns_or_admin(event.organizer_id) {
            return Err(AppError::Forbidden("only the event's organizer or an admin may add ticket types"));
        }
        let f = TicketTypeFields::parse(input)?;
        let now = self.now();
        let row = tt_row(TicketTypeId::new(), event_id, &f, now, now);
        match self.store.create_ticket_type(&row).await {
            Ok(()) => Ok(TicketTypeView { row, sold: 0, held: 0 }),
            Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
                code: "ticket_type_exists",
                detail: format!("the event already has a ticket type named {:?}", f.name),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_ticket_types(&self, event_id: EventId) -> Result<Vec<TicketTypeView>> {
        self.get_event(event_id).await?;
        Ok(self.store.ticket_types(event_id, self.now()).await?)
    }

    /// Changes a ticket type. Lowering the quota removes available places (409 if too few are free).
    pub async fn patch_ticket_type(
        &self,
        who: &Principal,
        event_id: EventId,
        ticket_type_id: TicketTypeId,
        p: TicketTypePatch,
    ) -> Result<TicketTypeView> {
        let event = self.get_event(event_id).await?;
        let current = self
            .store
            .ticket_type(ticket_type_id)
            .await?
            .filter(|t| t.event_id == event_id)
            .ok_or(AppError::NotFound("ticket type"))?;
        if !who.owns_or_admin(event.organizer_id) {
            return Err(AppError::Forbidden(
                "only the event's organizer or an admin may change ticket types",
            ));
        }
        let fmt = tessera_domain::clock::format_ts;
        let input = TicketTypeInput {
            name: Some(p.name.unwrap_or_else(|| current.name.clone())),
            price: Some(p.price.unwrap_or_else(|| Money::from_minor(current.price).to_string())),
            quota: Some(p.quota.unwrap_or(i64::from(current.quota))),
            per_person_limit: Some(p.per_person_limit.unwrap_or(i64::from(current.per_person_limit))),
            sale_starts_at: p.sale_starts_at.unwrap_or_else(|| current.sale_starts_at.map(fmt)),
            sale_ends_at: p.sale_ends_at.unwrap_or_else(|| current.sale_ends_at.map(fmt)),
            requires_approval: Some(p.requires_approval.unwrap_or(current.requires_approval)),
            allow_reentry: Some(p.allow_reentry.unwrap_or(current.allow_reentry)),
        };
        let f = TicketTypeFields::parse(&input)?;
        let now = self.now();
        let row = tt_row(ticket_type_id, event_id, &f, current.created_at, now);
        match self.store.update_ticket_type(&row, current.quota, now).await {
            Ok(()) => {}
            Err(StoreError::Conflict(c)) if c == "quota" => {
                return Err(AppError::Conflict {
                    code: "quota_in_use",
                    detail: "not enough unsold places to lower the quota that far".into(),
                });
            }
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::Conflict {
                    code: "ticket_type_exists",
                    detail: format!("the event already has a ticket type named {:?}", f.name),
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.store
            .ticket_types(event_id, now)
            .await?
            .into_iter()
            .find(|t| t.row.ticket_type_id == ticket_type_id)
            .ok_or(AppError::NotFound("ticket type"))
    }

    /// Holds seats (seated events) or places of a ticket type (general admission) until the
    /// event's hold time passes: all or none.
    pub async fn reserve(&self, who: &Principal, input: &ReserveInput) -> Result<ReservationView> {
        let event_id = input.event_id.ok_or_else(|| AppError::invalid("event_id", "is required"))?;
        let event = self.recent_event(event_id).await?;
        let now = self.now();
        if event.status != EventStatus::Published || event.start_time <= now {
            return Err(AppError::Forbidden("this event is not on sale"));
        }
        let admission = self.admission(who, event_id, input.queue_token.as_deref()).await?;
        let per_event = i64::from(event.max_per_person);
        if let Some(near) = input.near_seat
            && let Some(why) = near_seat_misuse(
                near,
                event.seating == Seating::Seated,
                input.seat_numbers.is_some(),
                input.ticket_type_id.is_some(),
                input.quantity.is_some(),
            )
        {
            return Err(AppError::invalid("near_seat", why));
        }
        let (req, per_type) = match (&input.seat_numbers, input.ticket_type_id) {
            (Some(seats), None) => {
                if event.seating != Seating::Seated {
                    return Err(AppError::invalid(
                        "seat_numbers",
                        "this event has no numbered seats; give ticket_type_id and quantity",
                    ));
                }
                let seats =
                    parse_seat_numbers(seats, per_event).map_err(|m| AppError::invalid("seat_numbers", m))?;
                (HoldRequest::Seats(seats), None)
            }
            (None, Some(tt)) => {
                let t = self.store.ticket_type(tt).await?.filter(|t| t.event_id == event_id).ok_or_else(
                    || AppError::invalid("ticket_type_id", "is not a ticket type of this event"),
                )?;
                if !on_sale(t.sale_starts_at, t.sale_ends_at, now) {
                    return Err(AppError::Forbidden("this ticket type is not on sale now"));
                }
                if t.requires_approval {
                    return Err(AppError::Forbidden("this ticket type is sold through applications"));
                }
                let q = input.quantity.ok_or_else(|| AppError::invalid("quantity", "is required"))?;
                if !(1..=100).contains(&q) {
                    return Err(AppError::invalid("quantity", "must be between 1 and 100"));
                }
                (HoldRequest::Places { ticket_type_id: tt, quantity: q }, Some(i64::from(t.per_person_limit)))
            }
            (Some(_), Some(_)) => {
                return Err(AppError::invalid(
                    "seat_numbers",
                    "give seat_numbers or ticket_type_id, not both",
                ));
            }
            // Seated events: "best available" — any free seats (or the free seats nearest
            // `near_seat`), chosen by the server.
            (None, None) if event.seating == Seating::Seated && input.quantity.is_some() => {
                let q = input.quantity.unwrap_or(0);
                if !(1..=per_event).contains(&q) {
                    return Err(AppError::invalid("quantity", format!("must be between 1 and {per_event}")));
                }
                (HoldRequest::AnySeats { quantity: q, near: input.near_seat }, None)
            }
            (None, None) => {
                return Err(AppError::invalid(
                    "seat_numbers",
                    if event.seating == Seating::Seated {
                        "give seat_numbers, or quantity for the best available seats"
                    } else {
                        "give ticket_type_id and quantity"
                    },
                ));
            }
        };
        let deadline = now + time::Duration::seconds(i64::from(event.hold_secs));
        let limits = HoldLimits { per_event, per_type };
        let cmd = HoldCommand {
            reservation_id: ReservationId::new(),
            user_id: who.user_id,
            event_id,
            admission,
            request: req,
            limits,
            now,
            deadline,
        };
        match self.store.hold(cmd).await? {
            HoldOutcome::Held(reservation, seat_numbers) => Ok(ReservationView { reservation, seat_numbers }),
            HoldOutcome::Unavailable { taken, unknown, nearby } if unknown.is_empty() => {
                Err(AppError::SeatsTaken { taken, available_nearby: nearby })
            }
            HoldOutcome::Unavailable { unknown, .. } => {
                Err(AppError::invalid("seat_numbers", format!("seats {} do not exist", join(&unknown))))
            }
            HoldOutcome::SoldOut { .. } => Err(AppError::Conflict {
                code: "sold_out",
                detail: if input.ticket_type_id.is_some() {
                    "not enough places of this ticket type are available".into()
                } else {
                    "not enough seats are available".into()
                },
            }),
            HoldOutcome::OverLimit { already, limit } => Err(AppError::invalid(
                if input.seat_numbers.is_some() { "seat_numbers" } else { "quantity" },
                format!("over the limit of {limit} per person (you already have {already})"),
            )),
            HoldOutcome::NotAdmitted => Err(self.not_admitted(admission.unwrap_or_default()).await),
        }
    }

    /// A reservation: its holder's or, for admins, anyone's; otherwise 404.
    pub async fn get_reservation(&self, who: &Principal, id: ReservationId) -> Result<ReservationView> {
        let reservation = self
            .store
            .reservation(id, self.now())
            .await?
            .filter(|r| r.user_id == who.user_id || who.is_admin())
            .ok_or(AppError::NotFound("reservation"))?;
        let seat_numbers = self.store.reservation_seats(id).await?;
        Ok(ReservationView { reservation, seat_numbers })
    }

    /// Releases the caller's pending hold.
    pub async fn release_reservation(&self, who: &Principal, id: ReservationId) -> Result<()> {
        let view = self.get_reservation(who, id).await?;
        if self.store.release(id, view.reservation.user_id, self.now()).await? {
            Ok(())
        } else {
            Err(AppError::Conflict {
                code: "not_pending",
                detail: format!("the reservation is {} and cannot be released", view.reservation.status),
            })
        }
    }

    /// Marks expired holds and frees their places (the sweeper job).
    pub async fn sweep_expired_holds(&self) -> Result<u64> {
        Ok(self.store.sweep_expired_holds(self.now()).await?)
    }

    /// Deletes rate-limit windows that have closed (the longest window is the resend limits'
    /// hour) and session changes older than every live access token. Safe on any instance.
    pub async fn sweep_expired_limits(&self) -> Result<u64> {
        let now = self.now();
        let longest = self.config.rate_limits.window_secs.max(crate::jobs::RESEND_WINDOW_SECS);
        let changes_before = now - time::Duration::seconds(self.config.tokens.access_ttl_secs + 60);
        Ok(self.store.purge_expired_limits(changes_before, now.unix_timestamp() - longest).await?)
    }
}

fn join(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

fn tt_row(
    id: TicketTypeId,
    event_id: EventId,
    f: &TicketTypeFields,
    created_at: time::OffsetDateTime,
    updated_at: time::OffsetDateTime,
) -> TicketType {
    TicketType {
        ticket_type_id: id,
        event_id,
        name: f.name.clone(),
        price: f.price.minor(),
        quota: i32::try_from(f.quota).unwrap_or(i32::MAX),
        per_person_limit: i32::try_from(f.per_person_limit).unwrap_or(i32::MAX),
        sale_starts_at: f.sale_starts_at,
        sale_ends_at: f.sale_ends_at,
        requires_approval: f.requires_approval,
        allow_reentry: f.allow_reentry,
        created_at,
        updated_at,
    }
}
