//! The authorization matrix: every route of the OpenAPI document, and the status each kind of
//! caller gets from it. The table is the contract: a route added without a row (or a row left
//! for a route that no longer exists) fails the test, and every mismatching cell is reported at
//! once with the answer it got.
//!
//! The fixture, made once per backend: event E (seated, with a general-admission type GA and a
//! type sold by approval) is owned by organizer O and has door staff S_E. Everything else in a
//! path belongs to attendee A: the ticket, purchase, hold, application, job and API key. The
//! other callers are attendee B, staff S_X and organizer O2 (S_X is door staff of O2's event X,
//! not of E), and an admin. A call that would use up what it acts on (paying, refunding,
//! reissuing, approving, deleting…) gets a fresh one of its own for every cell, so each cell
//! stands alone.
//!
//! Besides the anonymous caller, A, B, S_X, O2 and the admin, the table has columns for E's own
//! organizer O and door staff S_E, so that every rule is seen both to let in whom it should and
//! to keep out whom it should.

use std::collections::BTreeSet;
use std::time::Instant;
use tessera_domain::id::UserId;
use tessera_domain::records::User as UserRecord;

use http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use tessera_app::Principal;
use tessera_app::applications::ApplyInput;
use tessera_app::booking::ReserveInput;
use tessera_app::chats::{ChatConfig, SendInput};
use tessera_app::domain::Role;
use tessera_app::domain::booking::{SeatMapInput, TicketTypeInput};
use tessera_app::domain::event::EventInput;
use tessera_app::queue::QueueSettingsInput;
use tessera_domain::records::CallMove;
use tessera_store::Backend;

use crate::both;
use crate::support::TestApp;

both!(authorization_matrix);

/// Who calls, in the order of the table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No Authorization header.
    Anonymous,
    /// Attendee A, who holds the ticket, purchase, hold, application, job and API key in the path.
    Attendee,
    /// Attendee B: signed in, owns none of it.
    OtherAttendee,
    /// S_X: a staff account, door staff of event X (not of E).
    OtherStaff,
    /// O2: the organizer of event X (not of E).
    OtherOrganizer,
    Admin,
    /// O: the organizer of E (and of every event made for a cell).
    Organizer,
    /// S_E: door staff of E (and of every event made for a cell).
    Staff,
}

const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::Attendee,
    Caller::OtherAttendee,
    Caller::OtherStaff,
    Caller::OtherOrganizer,
    Caller::Admin,
    Caller::Organizer,
    Caller::Staff,
];

impl Caller {
    fn label(self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Attendee => "attendee A (owner)",
            Caller::OtherAttendee => "other attendee B",
            Caller::OtherStaff => "staff of another event",
            Caller::OtherOrganizer => "organizer of another event",
            Caller::Admin => "admin",
            Caller::Organizer => "the event's organizer",
            Caller::Staff => "the event's door staff",
        }
    }
}

/// What the ids in a row's path and body refer to for one cell.
#[derive(Debug, Clone, Copy)]
enum Use {
    /// The shared fixture: E, its GA type, user A, A's ticket, purchase, hold, application, job.
    Shared,
    /// `{ticket_type_id}` is E's shared type sold by approval.
    FormType,
    /// `{event_id}` is Q, the shared event with its waiting room on (O's, S_E its staff).
    QueueEvent,
    /// A new purchase of one GA place by A (of E, or of another event of O once A nears its
    /// per-person limit on E): `{ticket_id}`, `{purchase_id}` and its code.
    FreshTicket,
    /// A new pending hold of one GA place by A (as for `FreshTicket`): `{reservation_id}`.
    FreshHold,
    /// A new type of E sold by approval, not yet applied for: the body's `ticket_type_id`.
    FreshApprovalType,
    /// A's pending application for a new type of E sold by approval: `{application_id}`.
    FreshApplication,
    /// A new API key of A: `{api_key_id}`.
    FreshApiKey,
    /// A new general-admission event of O, S_E its staff: `{event_id}`.
    FreshEvent,
    /// A new event of O whose first key has been rotated out: `{event_id}`, `{key_id}` = 1.
    FreshRetirableKey,
    /// A new event of O with its waiting room on: `{event_id}` and the body's `event_id`.
    FreshQueueEvent,
    /// A new staff account, not assigned to any event: `{user_id}`.
    FreshStaffAccount,
    /// A new staff account assigned to E: `{user_id}`.
    FreshAssignedStaff,
    /// A new account with an unused refresh token (the body's `refresh_token`).
    FreshSession,
    /// A new message of A in C's chat: `{message_id}`.
    FreshMessage,
    /// A new account holding a place of E (so it shares E with everyone): `{user_id}`.
    FreshCallee,
    /// A new call ringing for A, from a new account holding a place of E (A's earlier calls
    /// ended first, so A is free): `{call_id}`.
    FreshCall,
    /// A new file of A's, attached to A's message in C's chat: `{file_id}`.
    FreshFile,
}

/// The concrete values of one cell.
#[derive(Debug, Clone)]
struct Ids {
    event: Uuid,
    ticket_type: Uuid,
    user: Uuid,
    ticket: Uuid,
    purchase: Uuid,
    reservation: Uuid,
    application: Uuid,
    job: Uuid,
    api_key: Uuid,
    /// C's chat (it has C's id) and A's message in it.
    chat: Uuid,
    message: Uuid,
    call: Uuid,
    file: Uuid,
    key_id: i32,
    code: String,
    queue_token: String,
    refresh_token: String,
    login_email: String,
    /// A second password account for /api/v1/login (logins are limited per e-mail).
    login_email2: String,
    /// Unique per cell (names, e-mails, scan ids).
    nonce: Uuid,
    /// The app's clock, RFC 3339.
    now: String,
}

/// One route and the status each caller (in [`CALLERS`] order) must get.
struct Row {
    method: &'static str,
    /// The path template exactly as in the OpenAPI document.
    path: &'static str,
    /// A query string template (same placeholders as the path), or "".
    query: &'static str,
    uses: Use,
    body: fn(&Ids) -> Option<Value>,
    expect: [u16; 8],
    /// The body is a multipart upload of a small PNG (`POST /files`), not JSON.
    multipart: bool,
    /// For some rows, the status alone does not say whether the caller was let act: a JSON
    /// pointer into the answer and the value each caller's answer must have there ("" = any).
    json: Option<(&'static str, [&'static str; 8])>,
}

fn row(method: &'static str, path: &'static str, expect: [u16; 8]) -> Row {
    Row { method, path, query: "", uses: Use::Shared, body: |_| None, expect, json: None, multipart: false }
}

impl Row {
    fn uses(mut self, uses: Use) -> Self {
        self.uses = uses;
        self
    }
    fn body(mut self, body: fn(&Ids) -> Option<Value>) -> Self {
        self.body = body;
        self
    }
    fn query(mut self, query: &'static str) -> Self {
        self.query = query;
        self
    }
    fn multipart(mut self) -> Self {
        self.multipart = true;
        self
    }
    fn json(mut self, pointer: &'static str, values: [&'static str; 8]) -> Self {
        self.json = Some((pointer, values));
        self
    }
}

// Common columns:             anon   A    B   S_X   O2  admin  O   S_E
const ANYONE: [u16; 8] = [200, 200, 200, 200, 200, 200, 200, 200];
const SIGNED_IN: [u16; 8] = [401, 200, 200, 200, 200, 200, 200, 200];
const SIGNED_IN_201: [u16; 8] = [401, 201, 201, 201, 201, 201, 201, 201];
/// The event's organizer and admins; everyone else signed in is refused (events are public, so
/// a 403 reveals nothing).
const EVENT_OWNER: [u16; 8] = [401, 403, 403, 403, 403, 200, 200, 403];
/// The event's door staff, its organizer and admins.
const EVENT_DOOR: [u16; 8] = [401, 403, 403, 403, 403, 200, 200, 200];
/// A's ticket, purchase or application: A, the event's organizer and admins; 404 for everyone
/// else (they may not learn it exists).
const HOLDER_ORGANIZER_ADMIN: [u16; 8] = [401, 200, 404, 404, 404, 200, 200, 404];
/// A's own things (account, hold, job): A and admins; 404 for everyone else.
const OWNER_OR_ADMIN: [u16; 8] = [401, 200, 404, 404, 404, 200, 404, 404];

/// The matrix: one row per route of the OpenAPI document.
fn table() -> Vec<Row> {
    [
        account_rows(),
        catalogue_rows(),
        booking_rows(),
        ticket_rows(),
        application_rows(),
        door_and_ops_rows(),
        chat_rows(),
        call_rows(),
        file_rows(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Accounts, sessions and API keys.
fn account_rows() -> Vec<Row> {
    use Use::*;
    let register = |i: &Ids| {
        Some(json!({"name": "New Person", "email": format!("new-{}@example.com", i.nonce.simple()),
                    "password": "password123"}))
    };
    let refresh = |i: &Ids| Some(json!({"refresh_token": i.refresh_token}));
    vec![
        row("POST", "/auth/register", [201; 8]).body(register),
        row("POST", "/auth/login", ANYONE)
            .body(|i| Some(json!({"email": i.login_email, "password": "password123"}))),
        row("POST", "/auth/refresh", ANYONE).uses(FreshSession).body(refresh),
        row("POST", "/auth/logout", [204; 8]).uses(FreshSession).body(refresh),
        row("GET", "/users/me", SIGNED_IN),
        row("GET", "/users", [401, 403, 403, 403, 403, 200, 403, 403]),
        // the festival's pages: a bearer token does not sign a page in (only the session
        // cookie does), so every caller is sent to sign in, and a form without its token is 403
        row("GET", "/apply/{form}", [303; 8]),
        row("GET", "/admin/dashboard", [303; 8]),
        row("GET", "/admin/analytics", [303; 8]),
        row("POST", "/admin/send-tickets", [403; 8]).body(|i| Some(json!({"event_id": i.event}))),
        // the festival's paths
        row("POST", "/api/v1/login", ANYONE)
            .body(|i| Some(json!({"email": i.login_email2, "password": "password123"}))),
        row("GET", "/api/v1/users", [401, 403, 403, 403, 403, 200, 403, 403]),
        row("GET", "/users/{user_id}", OWNER_OR_ADMIN),
        row("PATCH", "/users/{user_id}", OWNER_OR_ADMIN).body(|_| Some(json!({"name": "Ada Renamed"}))),
        row("GET", "/users/me/purchases", SIGNED_IN),
        row("GET", "/users/me/tickets", SIGNED_IN),
        row("POST", "/api-keys", SIGNED_IN_201).body(|_| Some(json!({"name": "box office"}))),
        row("GET", "/api-keys", SIGNED_IN),
        // One's own keys; admins anyone's (after resetting a password, say).
        row("DELETE", "/api-keys/{api_key_id}", [401, 204, 404, 404, 404, 204, 404, 404]).uses(FreshApiKey),
    ]
}

/// Events, categories, purchases and statistics.
fn catalogue_rows() -> Vec<Row> {
    use Use::*;
    vec![
        row("GET", "/events", ANYONE),
        row("GET", "/categories", ANYONE),
        row("POST", "/events", [401, 403, 403, 403, 201, 201, 201, 403])
            .body(|_| Some(json!({"name": "Another Night", "start_time": "2030-06-01T18:00:00Z"}))),
        row("GET", "/events/{event_id}", ANYONE),
        row("PATCH", "/events/{event_id}", EVENT_OWNER).body(|_| Some(json!({"description": "Changed"}))),
        row("DELETE", "/events/{event_id}", EVENT_OWNER).uses(FreshEvent),
        // purchases and statistics
        row("GET", "/events/{event_id}/purchases", EVENT_OWNER),
        row("POST", "/events/{event_id}/purchases", SIGNED_IN_201)
            .body(|i| Some(json!({"ticket_type_id": i.ticket_type, "ticket_quantity": 1}))),
        // The buyer (more than 24 h before the event), the organizer, admins; others 404.
        row("POST", "/purchases/{purchase_id}/refund", HOLDER_ORGANIZER_ADMIN).uses(FreshTicket),
        row("GET", "/stats/events/{event_id}", EVENT_OWNER),
        row("GET", "/stats/categories", [401, 403, 403, 403, 200, 200, 200, 403]),
        row("GET", "/stats/overview", [401, 403, 403, 403, 403, 200, 403, 403]),
        row("GET", "/events/{event_id}/export", EVENT_OWNER).query("format=json"),
    ]
}

/// Ticket types, seats, holds, the wallet, payments, seed 002's paths and the waiting room.
fn booking_rows() -> Vec<Row> {
    use Use::*;
    let hold_ga =
        |i: &Ids| Some(json!({"event_id": i.event, "ticket_type_id": i.ticket_type, "quantity": 1}));
    let pay = |i: &Ids| Some(json!({"reservation_id": i.reservation}));
    vec![
        row("GET", "/events/{event_id}/ticket-types", ANYONE),
        row("POST", "/events/{event_id}/ticket-types", [401, 403, 403, 403, 403, 201, 201, 403]).body(|i| {
            Some(json!({"name": format!("Type {}", i.nonce.simple()), "price": "1.00", "quota": 5}))
        }),
        row("PATCH", "/events/{event_id}/ticket-types/{ticket_type_id}", EVENT_OWNER)
            .body(|_| Some(json!({"allow_reentry": true}))),
        row("GET", "/events/{event_id}/seats", ANYONE),
        row("POST", "/reservations", SIGNED_IN_201).body(hold_ga),
        // Own holds; admins see anyone's (the event's organizer does not).
        row("GET", "/reservations/{reservation_id}", OWNER_OR_ADMIN),
        row("DELETE", "/reservations/{reservation_id}", [401, 204, 404, 404, 404, 204, 404, 404])
            .uses(FreshHold),
        // wallet: one's own
        row("GET", "/balance", SIGNED_IN),
        row("POST", "/balance", SIGNED_IN).body(|_| Some(json!({"amount": "5.00"}))),
        row("GET", "/balance/ledger", SIGNED_IN),
        // Only the holder pays a hold: anyone else's is 404 (admins' too).
        row("POST", "/payments", [401, 201, 404, 404, 404, 404, 404, 404]).uses(FreshHold).body(pay),
        // seed 002's paths
        row("GET", "/concerts", ANYONE),
        row("GET", "/concerts/{id}/seats", ANYONE),
        row("POST", "/reservation", SIGNED_IN_201).body(hold_ga),
        row("POST", "/payment", [401, 201, 404, 404, 404, 404, 404, 404]).uses(FreshHold).body(pay),
        row("POST", "/queue/token", SIGNED_IN_201)
            .uses(FreshQueueEvent)
            .body(|i| Some(json!({"event_id": i.event}))),
        // the waiting room
        row("PUT", "/events/{event_id}/queue", EVENT_OWNER)
            .uses(QueueEvent)
            .body(|_| Some(json!({"enabled": true, "admission_rate_per_minute": 60}))),
        row("GET", "/events/{event_id}/queue", ANYONE).uses(QueueEvent),
        row("POST", "/events/{event_id}/queue", SIGNED_IN_201).uses(FreshQueueEvent),
        // The queue token is the credential (A's token here), whoever presents it.
        row("GET", "/queue/status", ANYONE).query("token={queue_token}"),
    ]
}

/// Tickets, their e-mail jobs and the event's signing keys.
fn ticket_rows() -> Vec<Row> {
    use Use::*;
    vec![
        row("GET", "/tickets/{ticket_id}", HOLDER_ORGANIZER_ADMIN),
        row("GET", "/tickets/{ticket_id}/qr.svg", HOLDER_ORGANIZER_ADMIN),
        row("GET", "/tickets/{ticket_id}/qr.png", HOLDER_ORGANIZER_ADMIN),
        row("GET", "/tickets/{ticket_id}/ticket.pdf", HOLDER_ORGANIZER_ADMIN),
        row("POST", "/tickets/{ticket_id}/reissue", [401, 201, 404, 404, 404, 201, 201, 404])
            .uses(FreshTicket),
        row("POST", "/tickets/{ticket_id}/resend", [401, 202, 404, 404, 404, 202, 202, 404])
            .uses(FreshTicket),
        row("POST", "/events/{event_id}/tickets/send", [401, 403, 403, 403, 403, 202, 202, 403]),
        // A's job (a resend A asked for): A and admins; the event's organizer did not start it.
        row("GET", "/jobs/{job_id}", OWNER_OR_ADMIN),
        row("GET", "/events/{event_id}/keys", EVENT_OWNER),
        row("POST", "/events/{event_id}/keys/rotate", [401, 403, 403, 403, 403, 201, 201, 403])
            .uses(FreshEvent),
        row("POST", "/events/{event_id}/keys/{key_id}/retire", [401, 403, 403, 403, 403, 204, 204, 403])
            .uses(FreshRetirableKey),
    ]
}

/// Applications for types sold by approval.
fn application_rows() -> Vec<Row> {
    use Use::*;
    vec![
        row("GET", "/events/{event_id}/ticket-types/{ticket_type_id}/form", ANYONE).uses(FormType),
        row("PUT", "/events/{event_id}/ticket-types/{ticket_type_id}/form", EVENT_OWNER)
            .uses(FormType)
            .body(|_| Some(json!({"fields": [{"name": "school", "label": "School", "type": "text"}]}))),
        row("POST", "/events/{event_id}/applications", SIGNED_IN_201)
            .uses(FreshApprovalType)
            .body(|i| Some(json!({"ticket_type_id": i.ticket_type, "answers": {}, "guest_names": ["Aiko"]}))),
        row("GET", "/events/{event_id}/applications", EVENT_OWNER),
        row("POST", "/api/v1/apply", SIGNED_IN_201).uses(FreshApprovalType).body(|i| {
            Some(json!({"event_id": i.event, "ticket_type_id": i.ticket_type, "answers": {},
                        "guest_names": ["Aiko"]}))
        }),
        row("POST", "/events/{event_id}/applications/approve", EVENT_OWNER)
            .uses(FreshApplication)
            .body(|i| Some(json!({"application_ids": [i.application]})))
            .json("/results/0/result", ["", "", "", "", "", "approved", "approved", ""]),
        // The applicant, the event's organizer, admins; others 404.
        row("GET", "/applications/{application_id}", HOLDER_ORGANIZER_ADMIN),
        // Deciding is the organizer's: 403 for everyone else signed in, the applicant included.
        // (GET above hides the application from B, S_X, O2 and S_E with a 404; these answer
        // them 403, which tells them it exists. Kept as the API behaves: the id is an
        // unguessable UUID and nothing else is revealed.)
        row("POST", "/applications/{application_id}/approve", EVENT_OWNER).uses(FreshApplication),
        row("POST", "/applications/{application_id}/reject", EVENT_OWNER)
            .uses(FreshApplication)
            .body(|_| Some(json!({"reason": "No places for this school"}))),
    ]
}

/// Chats: the chat of event C (A holds its one ticket; O organizes it, S_E staffs it) and A's
/// messages in it.
fn chat_rows() -> Vec<Row> {
    use Use::*;
    // C's chat is its members': A, O, S_E and admins; everyone else 404, as for no chat.
    const CHAT_MEMBER: [u16; 8] = [401, 200, 404, 404, 404, 200, 200, 200];
    let until = |_: &Ids| Some(json!({"until": "2100-01-01T00:00:00Z"}));
    vec![
        // A direct chat with A: A cannot open one with themself (400). Everyone else shares an
        // event with A by this row (the purchase rows above bought places of E for each
        // caller), and admins may open chats with anyone; the 403 for people who share none is
        // in chats.rs.
        row("POST", "/chats", [401, 400, 201, 201, 201, 201, 201, 201])
            .body(|i| Some(json!({"kind": "direct", "member_ids": [i.user]}))),
        row("GET", "/chats", SIGNED_IN),
        row("GET", "/chats/{chat_id}", CHAT_MEMBER),
        row("GET", "/chats/{chat_id}/messages", CHAT_MEMBER),
        row("POST", "/chats/{chat_id}/messages", [401, 201, 404, 404, 404, 201, 201, 201])
            .body(|i| Some(json!({"body": "hello", "client_id": i.nonce.simple().to_string()}))),
        // Only the sender edits; other members are refused (403).
        row("PATCH", "/chats/{chat_id}/messages/{message_id}", [401, 200, 404, 404, 404, 403, 403, 403])
            .body(|_| Some(json!({"body": "edited"}))),
        // The sender, or the event's organizer and admins as its chat's moderators.
        row("DELETE", "/chats/{chat_id}/messages/{message_id}", [401, 204, 404, 404, 404, 204, 204, 403])
            .uses(FreshMessage),
        row("PUT", "/chats/{chat_id}/read", CHAT_MEMBER).body(|_| Some(json!({"seq": 1}))),
        // Muting someone (a fresh account) in C's chat: its moderators only.
        row("PUT", "/chats/{chat_id}/mutes/{user_id}", [401, 403, 404, 404, 404, 204, 204, 403])
            .uses(FreshStaffAccount)
            .body(until),
        row("DELETE", "/chats/{chat_id}/mutes/{user_id}", [401, 403, 404, 404, 404, 204, 204, 403])
            .uses(FreshStaffAccount),
        // Signed in, a plain GET is told to upgrade to a WebSocket.
        row("GET", "/ws", [401, 426, 426, 426, 426, 426, 426, 426]),
    ]
}

/// Calls: a fresh call ringing for A (from someone who is not a column). Only its two parties
/// see a call: everyone else gets 404, admins too.
fn call_rows() -> Vec<Row> {
    use Use::*;
    const PARTY: [u16; 8] = [401, 200, 404, 404, 404, 404, 404, 404];
    vec![
        // Calling a fresh holder of a place of E, with whom everyone signed in shares E (the
        // purchase rows above bought places of E for each caller).
        row("POST", "/calls", SIGNED_IN_201).uses(FreshCallee).body(|i| Some(json!({"receiver_id": i.user}))),
        row("GET", "/calls", SIGNED_IN),
        row("GET", "/calls/ice-servers", SIGNED_IN),
        row("GET", "/calls/{call_id}", PARTY).uses(FreshCall),
        row("POST", "/calls/{call_id}/answer", PARTY).uses(FreshCall),
        row("POST", "/calls/{call_id}/decline", PARTY).uses(FreshCall),
        row("POST", "/calls/{call_id}/end", PARTY).uses(FreshCall),
    ]
}

/// Files: A's file attached to A's message in C's chat, so C's chat members may read it.
fn file_rows() -> Vec<Row> {
    use Use::*;
    const CHAT_MEMBER: [u16; 8] = [401, 200, 404, 404, 404, 200, 200, 200];
    vec![
        row("POST", "/files", SIGNED_IN_201).multipart(),
        row("GET", "/files/{file_id}", CHAT_MEMBER),
        row("GET", "/files/{file_id}/meta", CHAT_MEMBER),
        // Its owner and admins; the chat's other members may read it but not delete it (403).
        row("DELETE", "/files/{file_id}", [401, 204, 404, 404, 404, 204, 403, 403]).uses(FreshFile),
    ]
}

/// Check-in, door staff and operations.
fn door_and_ops_rows() -> Vec<Row> {
    use Use::*;
    let scan = |i: &Ids| Some(json!({"code": i.code, "direction": "entry", "gate": "North"}));
    let sync = |i: &Ids| {
        Some(json!({"device_id": format!("device-{}", i.nonce.simple()), "scans": [
            {"scan_id": i.nonce, "code": i.code, "direction": "entry", "gate": "North", "scanned_at": i.now}
        ]}))
    };
    vec![
        // check-in: attendees may not scan at all; another event's staff or organizer is refused
        // the ticket (403 wrong_event, named).
        row("POST", "/checkin", EVENT_DOOR)
            .uses(FreshTicket)
            .body(scan)
            .json("/code", ["", "", "", "wrong_event", "wrong_event", "", "", ""]),
        // A batch answers per scan: another event's staff or organizer gets 200 with every scan
        // of E's tickets refused as wrong_event, and nothing recorded.
        row("POST", "/checkin/sync", [401, 403, 403, 200, 200, 200, 200, 200])
            .uses(FreshTicket)
            .body(sync)
            .json(
                "/results/0/result",
                ["", "", "", "wrong_event", "wrong_event", "accepted", "accepted", "accepted"],
            ),
        row("GET", "/events/{event_id}/checkin/offline-bundle", EVENT_DOOR),
        row("GET", "/events/{event_id}/checkin/summary", EVENT_DOOR),
        row("GET", "/events/{event_id}/staff", EVENT_OWNER),
        row("PUT", "/events/{event_id}/staff/{user_id}", [401, 403, 403, 403, 403, 201, 201, 403])
            .uses(FreshStaffAccount),
        row("DELETE", "/events/{event_id}/staff/{user_id}", [401, 403, 403, 403, 403, 204, 204, 403])
            .uses(FreshAssignedStaff),
        // operations
        row("GET", "/health", ANYONE),
        // The metrics token or an admin.
        row("GET", "/metrics", [401, 403, 403, 403, 403, 200, 403, 403]),
    ]
}

/// Where A's fresh holds and tickets are made: the GA type of an event of O (E at first),
/// moved to a new event before A nears the event's per-person limit of 100 places.
#[derive(Debug, Clone, Copy)]
struct Stock {
    event: Uuid,
    ga: Uuid,
    used: i64,
}

/// One GA place bought by A.
struct Bought {
    purchase: Uuid,
    ticket: Uuid,
    /// The ticket's code.
    code: String,
}

/// The shared fixture of one backend.
struct Fx {
    t: TestApp,
    /// Each caller's access token, in [`CALLERS`] order (none for the anonymous caller).
    tokens: Vec<Option<String>>,
    a: Principal,
    o: Principal,
    staff_e: Uuid,
    stock: std::sync::Mutex<Stock>,
    event: Uuid,
    ga: Uuid,
    approval: Uuid,
    queue_event: Uuid,
    ticket: Uuid,
    purchase: Uuid,
    code: String,
    reservation: Uuid,
    application: Uuid,
    job: Uuid,
    queue_token: String,
    login_email: String,
    login_email2: String,
    /// Event C of O (S_E its staff) for the chat rows: A holds its only ticket, so its chat's
    /// members stay A, O, S_E (and admins) whatever other rows buy on E.
    chat_event: Uuid,
    message: Uuid,
    /// A's file, attached to A's message in C's chat.
    file: Uuid,
}

/// An account made straight in the store (no password hashing), with an access token.
struct Account {
    principal: Principal,
    token: String,
    email: String,
}

async fn account(t: &TestApp, role: Role, password_hash: &str) -> Account {
    let now = t.app.now();
    let email = format!("{}-{}@example.com", role.as_str(), Uuid::new_v4().simple());
    let row = UserRecord {
        user_id: UserId::new(),
        name: format!("A {}", role.as_str()),
        email: email.clone(),
        password_hash: password_hash.into(),
        role,
        phone_number: None,
        created_at: now,
        updated_at: now,
        disabled_at: None,
    };
    t.db.store.insert_users(std::slice::from_ref(&row)).await.unwrap();
    let p = Principal { user_id: row.user_id, role };
    let token = t.app.access_token(p.user_id, role).unwrap();
    Account { principal: p, token, email }
}

fn event_input(name: &str, seating: &str) -> EventInput {
    EventInput {
        name: Some(name.into()),
        start_time: Some("2030-05-01T18:00:00Z".into()),
        end_time: Some("2030-05-03T18:00:00Z".into()),
        price: Some("50.00".into()),
        seating: Some(seating.into()),
        max_per_person: Some(100),
        ..Default::default()
    }
}

fn ga_input() -> TicketTypeInput {
    TicketTypeInput {
        name: Some("GA".into()),
        price: Some("1.00".into()),
        quota: Some(1000),
        per_person_limit: Some(100),
        ..Default::default()
    }
}

fn approval_type_input(name: String) -> TicketTypeInput {
    TicketTypeInput {
        name: Some(name),
        price: Some("0".into()),
        quota: Some(10),
        per_person_limit: Some(1),
        requires_approval: Some(true),
        ..Default::default()
    }
}

impl Fx {
    async fn new(b: Backend) -> Fx {
        // The test clock stands still: every message of the matrix is sent in one second.
        let chat = ChatConfig { messages_per_second: 1000, ..Default::default() };
        let t = TestApp::with_config(b, tessera_app::AppConfig { chat, ..Default::default() }).await;
        let unused = "$argon2id$unused";
        let Account { principal: a, token: a_t, .. } = account(&t, Role::Attendee, unused).await;
        let Account { principal: b_p, token: b_t, .. } = account(&t, Role::Attendee, unused).await;
        let Account { principal: sx, token: sx_t, .. } = account(&t, Role::Staff, unused).await;
        let Account { principal: o2, token: o2_t, .. } = account(&t, Role::Organizer, unused).await;
        let Account { principal: admin, token: admin_t, .. } = account(&t, Role::Admin, unused).await;
        let Account { principal: o, token: o_t, .. } = account(&t, Role::Organizer, unused).await;
        let Account { principal: se, token: se_t, .. } = account(&t, Role::Staff, unused).await;
        // The one account that logs in with a password (POST /auth/login).
        let hash = tessera_app::auth::hash_password("password123".into()).await.unwrap();
        let login_email = account(&t, Role::Attendee, &hash).await.email;
        let login_email2 = account(&t, Role::Attendee, &hash).await.email;

        // Event X of O2, with S_X its door staff (assigned over HTTP, as an organizer does).
        let x =
            t.app.create_event(&o2, &event_input("Other Night", "general"), &SeatMapInput::default()).await;
        let x = x.unwrap().event_id;
        let r = t.call("PUT", &format!("/events/{x}/staff/{}", sx.user_id), Some(&o2_t), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

        // Event E of O: seated, a GA type and a type sold by approval; S_E its door staff.
        let seats = SeatMapInput { seat_count: Some(20), ..Default::default() };
        let event =
            t.app.create_event(&o, &event_input("Jazz Night", "seated"), &seats).await.unwrap().event_id;
        let r = t.call("PUT", &format!("/events/{event}/staff/{}", se.user_id), Some(&o_t), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let ga = t.app.create_ticket_type(&o, event, &ga_input()).await.unwrap().row.ticket_type_id;
        let approval = approval_type_input("Student".into());
        let approval = t.app.create_ticket_type(&o, event, &approval).await.unwrap().row.ticket_type_id;

        // Wallets for buying.
        for p in [&a, &b_p, &sx, &o2, &admin, &o, &se] {
            t.app.charge(p, Some("1000")).await.unwrap();
        }

        let mut fx = Fx {
            t,
            tokens: Vec::new(),
            a,
            o,
            staff_e: se.user_id.into(),
            stock: std::sync::Mutex::new(Stock { event: event.into(), ga: ga.into(), used: 0 }),
            event: event.into(),
            ga: ga.into(),
            approval: approval.into(),
            queue_event: Uuid::nil(),
            ticket: Uuid::nil(),
            purchase: Uuid::nil(),
            code: String::new(),
            reservation: Uuid::nil(),
            application: Uuid::nil(),
            job: Uuid::nil(),
            queue_token: String::new(),
            login_email,
            login_email2,
            chat_event: Uuid::nil(),
            message: Uuid::nil(),
            file: Uuid::nil(),
        };
        fx.tokens = CALLERS
            .iter()
            .map(|c| match c {
                Caller::Anonymous => None,
                Caller::Attendee => Some(a_t.clone()),
                Caller::OtherAttendee => Some(b_t.clone()),
                Caller::OtherStaff => Some(sx_t.clone()),
                Caller::OtherOrganizer => Some(o2_t.clone()),
                Caller::Admin => Some(admin_t.clone()),
                Caller::Organizer => Some(o_t.clone()),
                Caller::Staff => Some(se_t.clone()),
            })
            .collect();
        // A's shared ticket, hold, application, job and queue entry.
        Bought { purchase: fx.purchase, ticket: fx.ticket, code: fx.code } = fx.buy().await;
        fx.reservation = fx.hold().await;
        let apply = ApplyInput {
            ticket_type_id: Some(approval),
            guest_names: Some(vec!["Aiko".into()]),
            ..Default::default()
        };
        fx.application = fx.t.app.apply(&fx.a, event, apply).await.unwrap().application_id.into();
        fx.job = fx.t.app.resend_ticket(&fx.a, fx.ticket.into()).await.unwrap().into();
        fx.queue_event = fx.new_event(true).await;
        let joined = fx.t.app.join_queue(&fx.a, Some(fx.queue_event.into()), "192.0.2.1").await.unwrap();
        fx.queue_token = joined.queue_token;
        fx.chat_event = fx.new_event(false).await;
        let c = fx.chat_event.into();
        let ga = fx.t.app.create_ticket_type(&fx.o, c, &ga_input()).await.unwrap().row.ticket_type_id;
        let input = ReserveInput {
            event_id: Some(c),
            ticket_type_id: Some(ga),
            quantity: Some(1),
            ..Default::default()
        };
        let hold = fx.t.app.reserve(&fx.a, &input).await.unwrap().reservation.reservation_id;
        fx.t.app.pay(&fx.a, Some(hold), None, None).await.unwrap();
        fx.message = fx.message().await;
        fx.file = fx.attached_file().await;
        fx
    }

    fn token(&self, n: usize) -> Option<&str> {
        self.tokens[n].as_deref()
    }

    /// A buys one GA place (see `hold`).
    async fn buy(&self) -> Bought {
        let id = self.hold().await;
        let r = self.t.app.pay(&self.a, Some(id.into()), None, None).await.unwrap();
        let ticket = r.tickets[0].ticket_id;
        let code = self.t.app.ticket(&self.a, ticket).await.unwrap().code.unwrap();
        Bought { purchase: r.purchase.purchase_id.into(), ticket: ticket.into(), code }
    }

    /// A holds one GA place (of E, until A nears its per-person limit there).
    async fn hold(&self) -> Uuid {
        let mut stock = *self.stock.lock().unwrap();
        // Room for the places A takes on E over HTTP (its own cells of the booking rows).
        if stock.used >= 80 {
            let event = self.new_event(false).await;
            let ga = self.t.app.create_ticket_type(&self.o, event.into(), &ga_input()).await.unwrap();
            stock = Stock { event, ga: ga.row.ticket_type_id.into(), used: 0 };
        }
        stock.used += 1;
        *self.stock.lock().unwrap() = stock;
        let input = ReserveInput {
            event_id: Some(stock.event.into()),
            ticket_type_id: Some(stock.ga.into()),
            quantity: Some(1),
            ..Default::default()
        };
        self.t.app.reserve(&self.a, &input).await.unwrap().reservation.reservation_id.into()
    }

    /// A new type of E sold by approval.
    async fn approval_type(&self) -> Uuid {
        let input = approval_type_input(format!("Approval {}", Uuid::new_v4().simple()));
        self.t
            .app
            .create_ticket_type(&self.o, self.event.into(), &input)
            .await
            .unwrap()
            .row
            .ticket_type_id
            .into()
    }

    /// A new attendee who bought a place of E.
    async fn holder_of_e(&self) -> Principal {
        let p = account(&self.t, Role::Attendee, "$argon2id$unused").await.principal;
        let app = &self.t.app;
        app.charge(&p, Some("10")).await.unwrap();
        let input = ReserveInput {
            event_id: Some(self.event.into()),
            ticket_type_id: Some(self.ga.into()),
            quantity: Some(1),
            ..Default::default()
        };
        let hold = app.reserve(&p, &input).await.unwrap().reservation.reservation_id;
        app.pay(&p, Some(hold), None, None).await.unwrap();
        p
    }

    /// A new file of A's, attached to a message of A's in C's chat.
    async fn attached_file(&self) -> Uuid {
        let token = self.tokens[1].as_deref();
        let r =
            crate::files::upload_with(&self.t, token, "", "file", "map.png", &crate::files::png(64)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let file = r.body["file_id"].as_str().unwrap().parse::<Uuid>().unwrap();
        let input = SendInput { body: None, client_id: None, file_id: Some(file.into()) };
        self.t.app.send_message(&self.a, self.chat_event.into(), input).await.unwrap();
        file
    }

    /// A new message of A in C's chat.
    async fn message(&self) -> Uuid {
        let input = SendInput { body: Some("hello".into()), client_id: None, file_id: None };
        self.t.app.send_message(&self.a, self.chat_event.into(), input).await.unwrap().0.message_id.into()
    }

    /// A new event of O with S_E its door staff (and its waiting room on, if asked).
    async fn new_event(&self, queue: bool) -> Uuid {
        let input = event_input("Fresh Night", "general");
        let ev = self.t.app.create_event(&self.o, &input, &SeatMapInput::default()).await.unwrap().event_id;
        self.t.app.add_event_staff(&self.o, ev, self.staff_e.into()).await.unwrap();
        if queue {
            let q = QueueSettingsInput { enabled: Some(true), ..Default::default() };
            self.t.app.set_queue(&self.o, ev, q).await.unwrap();
        }
        ev.into()
    }

    /// The values of one cell: the shared fixture, with a fresh resource where the row asks.
    async fn ids(&self, uses: Use) -> Ids {
        let mut i = Ids {
            event: self.event,
            ticket_type: self.ga,
            user: self.a.user_id.into(),
            ticket: self.ticket,
            purchase: self.purchase,
            reservation: self.reservation,
            application: self.application,
            job: self.job,
            api_key: Uuid::nil(),
            chat: self.chat_event,
            message: self.message,
            call: Uuid::nil(),
            file: self.file,
            key_id: 1,
            code: self.code.clone(),
            queue_token: self.queue_token.clone(),
            refresh_token: String::new(),
            login_email: self.login_email.clone(),
            login_email2: self.login_email2.clone(),
            nonce: Uuid::now_v7(),
            now: tessera_app::domain::clock::format_ts(self.t.app.now()),
        };
        let app = &self.t.app;
        match uses {
            Use::Shared => {}
            Use::FormType => i.ticket_type = self.approval,
            Use::QueueEvent => i.event = self.queue_event,
            Use::FreshTicket => {
                Bought { purchase: i.purchase, ticket: i.ticket, code: i.code } = self.buy().await
            }
            Use::FreshHold => i.reservation = self.hold().await,
            Use::FreshApprovalType => i.ticket_type = self.approval_type().await,
            Use::FreshApplication => {
                let tt = self.approval_type().await;
                let apply = ApplyInput {
                    ticket_type_id: Some(tt.into()),
                    guest_names: Some(vec!["Aiko".into()]),
                    ..Default::default()
                };
                i.ticket_type = tt;
                i.application =
                    app.apply(&self.a, self.event.into(), apply).await.unwrap().application_id.into();
            }
            Use::FreshApiKey => {
                i.api_key = app.create_api_key(&self.a, Some("server")).await.unwrap().row.api_key_id.into()
            }
            Use::FreshEvent => i.event = self.new_event(false).await,
            Use::FreshRetirableKey => {
                i.event = self.new_event(false).await;
                app.rotate_event_key(&self.o, i.event.into()).await.unwrap();
                i.key_id = 1;
            }
            Use::FreshQueueEvent => i.event = self.new_event(true).await,
            Use::FreshStaffAccount => {
                i.user = account(&self.t, Role::Staff, "$argon2id$unused").await.principal.user_id.into()
            }
            Use::FreshAssignedStaff => {
                i.user = account(&self.t, Role::Staff, "$argon2id$unused").await.principal.user_id.into();
                app.add_event_staff(&self.o, self.event.into(), i.user.into()).await.unwrap();
            }
            Use::FreshMessage => i.message = self.message().await,
            Use::FreshFile => i.file = self.attached_file().await,
            Use::FreshCallee => i.user = self.holder_of_e().await.user_id.into(),
            Use::FreshCall => {
                for c in app.calls(&self.a, Some(100), None).await.unwrap().items {
                    if c.status.is_live() {
                        app.move_call(&self.a, c.call_id, CallMove::End).await.unwrap();
                    }
                }
                let caller = self.holder_of_e().await;
                i.call = app.start_call(&caller, Some(self.a.user_id), None).await.unwrap().call_id.into();
            }
            Use::FreshSession => {
                let p = account(&self.t, Role::Attendee, "$argon2id$unused").await.principal;
                let token = tessera_app::auth::random_token();
                let now = app.now();
                let expires = now + time::Duration::days(1);
                let hash = tessera_app::auth::token_hash(&token);
                self.t
                    .db
                    .store
                    .insert_refresh_token(&hash, p.user_id, Uuid::now_v7(), expires, now)
                    .await
                    .unwrap();
                i.refresh_token = token;
            }
        }
        i
    }
}

/// A template with the cell's values in place of its `{placeholders}`.
fn fill(template: &str, i: &Ids) -> String {
    template
        .replace("{event_id}", &i.event.to_string())
        .replace("{id}", &i.event.to_string())
        .replace("{ticket_type_id}", &i.ticket_type.to_string())
        .replace("{user_id}", &i.user.to_string())
        .replace("{ticket_id}", &i.ticket.to_string())
        .replace("{purchase_id}", &i.purchase.to_string())
        .replace("{reservation_id}", &i.reservation.to_string())
        .replace("{application_id}", &i.application.to_string())
        .replace("{job_id}", &i.job.to_string())
        .replace("{api_key_id}", &i.api_key.to_string())
        .replace("{key_id}", &i.key_id.to_string())
        .replace("{chat_id}", &i.chat.to_string())
        .replace("{message_id}", &i.message.to_string())
        .replace("{call_id}", &i.call.to_string())
        .replace("{file_id}", &i.file.to_string())
        .replace("{queue_token}", &i.queue_token)
        .replace("{form}", "student")
}

/// Every (METHOD, path template) of the OpenAPI document.
fn documented_routes() -> BTreeSet<(String, String)> {
    let doc = tessera_http::openapi();
    let mut out = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", item.get.is_some()),
            ("PUT", item.put.is_some()),
            ("POST", item.post.is_some()),
            ("DELETE", item.delete.is_some()),
            ("OPTIONS", item.options.is_some()),
            ("HEAD", item.head.is_some()),
            ("PATCH", item.patch.is_some()),
            ("TRACE", item.trace.is_some()),
        ];
        for (method, present) in ops {
            if present {
                out.insert((method.to_string(), path.clone()));
            }
        }
    }
    out
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out: String = s.chars().take(300).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Every route has exactly one row, and every row names a route.
#[test]
fn every_documented_route_has_one_row() {
    let documented = documented_routes();
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for r in &table() {
        let key = (r.method.to_string(), r.path.to_string());
        if !listed.insert(key.clone()) {
            problems.push(format!("{} {}: more than one row", key.0, key.1));
        }
        if !documented.contains(&key) {
            problems.push(format!("{} {}: a row for a route that is not in openapi()", key.0, key.1));
        }
    }
    for (method, path) in documented.difference(&listed) {
        problems.push(format!("{method} {path}: a route of openapi() without a row in the matrix"));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) in the matrix's rows:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

impl Fx {
    /// Calls one cell of the matrix (row `r`, caller `n`): what is wrong with its answer, if
    /// anything.
    async fn check(&self, r: &Row, n: usize) -> Option<String> {
        let ids = self.ids(r.uses).await;
        let mut path = fill(r.path, &ids);
        if !r.query.is_empty() {
            path = format!("{path}?{}", fill(r.query, &ids));
        }
        assert!(!path.contains('{'), "{} {}: a placeholder the test does not fill: {path}", r.method, r.path);
        let res = if r.multipart {
            let query = path.strip_prefix("/files").unwrap_or("");
            crate::files::upload_with(
                &self.t,
                self.token(n),
                query,
                "file",
                "cell.png",
                &crate::files::png(64),
            )
            .await
        } else {
            self.t.call(r.method, &path, self.token(n), (r.body)(&ids)).await
        };
        let expected = r.expect[n];
        let got = res.status.as_u16();
        let mut wrong = got != expected;
        let mut note = String::new();
        if let Some((pointer, values)) = r.json
            && !values[n].is_empty()
            && res.body.pointer(pointer).and_then(Value::as_str) != Some(values[n])
        {
            wrong = true;
            note = format!(" and {pointer} = {:?}", values[n]);
        }
        wrong.then(|| {
            format!(
                "{} {} as {}: expected {expected}{note}, got {got}: {}\n      ({} {path})",
                r.method,
                r.path,
                CALLERS[n].label(),
                short(&res.body),
                r.method,
            )
        })
    }
}

/// Every cell of the matrix: each documented route called by each kind of caller. Every
/// mismatching cell is reported at once, with the answer it got.
async fn authorization_matrix(b: Backend) {
    let started = Instant::now();
    let rows = table();
    let documented = documented_routes();
    let fx = Fx::new(b).await;
    let setup = started.elapsed();
    let mut problems = Vec::new();
    let mut cells = 0;
    for r in rows.iter().filter(|r| documented.contains(&(r.method.to_string(), r.path.to_string()))) {
        for n in 0..CALLERS.len() {
            cells += 1;
            problems.extend(fx.check(r, n).await);
        }
    }
    eprintln!(
        "authorization matrix on {b:?}: {} routes, {} rows, {cells} cells; setup {:.2?}, total {:.2?}",
        documented.len(),
        rows.len(),
        setup,
        started.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) in the authorization matrix on {b:?}:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}
