"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

positive_data_acceptance (ST202) fails when the server refuses a request that matches the
OpenAPI document. The document states every rule about one value (types, bounds, patterns,
required fields); the refusals below are the ones no JSON Schema of a single request can state:
a rule between two fields, a value that must come from the server (a cursor, a signed ticket
code), or a rule that depends on stored data (an event's seating, a form's fields, a per-person
limit). Each entry names the operation, the field the problem document blames and the start of
its message, so any other refusal still fails the run. Dropped failures are counted in the
summary ("dropped by filter_failure").
"""

import re

import schemathesis

ANY = "*"

# operation label (or ANY) -> [(status, field regex, message regex)]
EXPECTED_REFUSALS = {
    ANY: [
        # A cursor is opaque: only one the server handed out can be given back.
        (400, r"cursor", r"is not a cursor from this list"),
        # Ranges given by two query parameters.
        (400, r"price_max", r"must not be below price_min"),
        (400, r"start_to", r"must not be before start_from"),
        (400, r"to", r"must not be before from"),
        # A ticket type is named with its event, and is sold either by reservation or by
        # application.
        (400, r"ticket_type_id", r"is not a ticket type of this event|this ticket type is sold by"),
    ],
    "POST /events": [
        (400, r"end_time", r"must not be before start_time"),
        (400, r"seating", r"must be seated to give seat_count or sections"),
        (400, r"seat_count", r"give seat_count or sections, not both"),
        (400, r"sections", r"hold \d+ seats; at most"),
    ],
    "PATCH /events/{event_id}": [
        (400, r"end_time", r"must not be before start_time"),
    ],
    "POST /events/{event_id}/ticket-types": [
        (400, r"sale_ends_at", r"must be after sale_starts_at"),
    ],
    "PATCH /events/{event_id}/ticket-types/{ticket_type_id}": [
        (400, r"sale_ends_at", r"must be after sale_starts_at"),
    ],
    "PUT /events/{event_id}/queue": [(400, r"opens_at", r"must be before the event starts")],
    "PUT /events/{event_id}/staff/{user_id}": [(400, r"user_id", r"only staff accounts")],
    "PUT /events/{event_id}/ticket-types/{ticket_type_id}/form": [
        (400, r"fields\[\d+\]\.name", r"is used by another field"),
        (400, r"fields\[\d+\]\.options", r"a choice needs|only a choice has options"),
        (400, r"fields\[\d+\]\.min", r"only a number has bounds"),
        (400, r"fields\[\d+\]\.max", r"must not be below min"),
    ],
    "POST /events/{event_id}/applications": [
        # The answers are checked against the ticket type's form.
        (400, r"answers\..*", r"."),
        (400, r"guest_names", r"at most \d+|twice"),
    ],
    "PATCH /users/{user_id}": [
        (400, r"current_password", r"does not match the current password|is required"),
        (400, r"disabled", r"admins cannot disable their own account"),
    ],
    # Offline scans are checked against the time they reach the server.
    "POST /checkin/sync": [(400, r"scans\[\d+\]\.scanned_at", r"is in the future")],
    "POST /checkin": [
        # Only a code Tessera signed is a ticket.
        (422, None, r"this is not a ticket code"),
    ],
    # A direct chat has one other person and no name; nobody opens a chat with themself.
    "POST /chats": [
        (400, r"member_ids", r"a direct chat has exactly one other person|name at least one other person"),
        (400, r"name", r"a direct chat has no name"),
    ],
    # Text is trimmed; a message with nothing but spaces is empty.
    # (Control characters other than line breaks and tabs are not text.)
    "POST /chats/{chat_id}/messages": [
        (400, r"body", r"must not be empty|is required|must not contain control characters"),
    ],
    "PATCH /chats/{chat_id}/messages/{message_id}": [
        (400, r"body", r"must not be empty|must not contain control characters"),
    ],
    # Waiting and the history's cursor go with `after` and without it respectively.
    "GET /chats/{chat_id}/messages": [
        (400, r"wait", r"waiting needs `after`"),
        (400, r"cursor", r"is for the history"),
    ],
    "PUT /chats/{chat_id}/mutes/{user_id}": [
        (400, r"until", r"must be in the future"),
        (400, r"chat_id", r"only an event's chat"),
    ],
    "POST /calls": [(400, r"receiver_id", r"you cannot call yourself")],
    # A plain request to the WebSocket endpoint is told to upgrade.
    "GET /ws": [(426, None, r".")],
    # The content is sniffed: random bytes are not an accepted kind of file.
    # Multipart bodies the generator writes with part headers multer cannot read.
    "POST /files": [(415, None, r"accepted:"), (400, r"file", r"is empty|failed to read headers")],
}
# Reserving depends on the event: seat numbers on a seated event, a ticket type and quantity on
# general admission, the per-person limit, seats that exist.
EXPECTED_REFUSALS["POST /reservations"] = [
    (400, r"seat_numbers|ticket_type_id|quantity|near_seat", r"."),
]
EXPECTED_REFUSALS["POST /reservation"] = EXPECTED_REFUSALS["POST /reservations"]


def _expected(label, status, problem):
    errors = problem.get("errors") or [{"field": None, "message": problem.get("detail", "")}]
    rules = EXPECTED_REFUSALS.get(ANY, []) + EXPECTED_REFUSALS.get(label, [])

    def matches(err):
        for want_status, field, message in rules:
            if want_status != status:
                continue
            if field is not None and not re.fullmatch(field, err.get("field") or ""):
                continue
            if re.match(message, err.get("message") or problem.get("detail", "")):
                return True
        return False

    return all(matches(e) for e in errors)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if getattr(failure, "code", None) != "ST202":
        return True
    try:
        problem = response.json()
    except Exception:
        return True
    if not isinstance(problem, dict):
        return True
    return not _expected(case.operation.label, response.status_code, problem)
