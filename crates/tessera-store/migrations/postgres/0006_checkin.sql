-- Door check-in. Staff are assigned per event; every scan is kept (accepted or not, online or
-- synced from an offline scanner); a ticket's state at the door is one row per event day,
-- changed by one conditional statement per scan.

CREATE TABLE event_staff (
    event_id   UUID NOT NULL REFERENCES events (event_id),
    user_id    UUID NOT NULL REFERENCES users (user_id),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (event_id, user_id)
);

-- Re-entry after an exit is allowed unless the ticket type forbids it.
ALTER TABLE ticket_types ADD COLUMN allow_reentry BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE checkins (
    -- Server-made for online scans; the scanner's own id for synced ones (so a batch sent twice
    -- adds nothing).
    scan_id     UUID PRIMARY KEY,
    event_id    UUID REFERENCES events (event_id),
    ticket_id   UUID REFERENCES tickets (ticket_id),
    direction   TEXT NOT NULL CHECK (direction IN ('entry', 'exit')),
    day         INTEGER,
    gate        TEXT,
    device_id   TEXT,
    scanned_by  UUID NOT NULL REFERENCES users (user_id),
    -- When the door saw it (the device's clock for offline scans), and when the server did.
    scanned_at  TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('online', 'offline')),
    -- accepted, already_inside, not_inside, or why the code was refused (invalid_code,
    -- ticket_void, wrong_event, unknown_ticket, not_valid_now).
    result      TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX checkins_ticket_idx ON checkins (ticket_id, day);
CREATE INDEX checkins_event_idx ON checkins (event_id, scanned_at);

CREATE TABLE ticket_presence (
    ticket_id      UUID NOT NULL REFERENCES tickets (ticket_id),
    day            INTEGER NOT NULL CHECK (day >= 1),
    event_id       UUID NOT NULL REFERENCES events (event_id),
    inside         BOOLEAN NOT NULL,
    entries        INTEGER NOT NULL CHECK (entries >= 0),
    first_entry_at TIMESTAMPTZ,
    first_gate     TEXT,
    last_scan_at   TIMESTAMPTZ,
    -- Bumped by every change: an offline merge writes only if nothing changed since it read.
    version        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ticket_id, day)
);
CREATE INDEX ticket_presence_event_idx ON ticket_presence (event_id, day);
