-- Applications (seed 003's student and teacher forms): a ticket type sold by approval has a form;
-- an applicant asks for tickets for named guests; an organizer approves (tickets are issued then,
-- and e-mailed) or rejects with a reason. One live application per person and ticket type.
CREATE TABLE application_forms (
    ticket_type_id BLOB PRIMARY KEY REFERENCES ticket_types (ticket_type_id),
    -- JSON: [{name, label, type, required, options, min, max, max_length}]
    fields         TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE applications (
    application_id BLOB PRIMARY KEY,
    event_id       BLOB NOT NULL REFERENCES events (event_id),
    ticket_type_id BLOB NOT NULL REFERENCES ticket_types (ticket_type_id),
    user_id        BLOB NOT NULL REFERENCES users (user_id),
    -- JSON objects: the checked answers and the guests' names.
    answers        TEXT NOT NULL,
    guest_names    TEXT NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    reason         TEXT,
    decided_by     BLOB,
    decided_at     TEXT,
    purchase_id    BLOB,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX applications_live_idx ON applications (ticket_type_id, user_id)
    WHERE status IN ('pending', 'approved');
CREATE INDEX applications_event_idx ON applications (event_id, status, application_id);

-- The guest a ticket was issued for (applications name each guest).
ALTER TABLE tickets ADD COLUMN guest_name TEXT;
