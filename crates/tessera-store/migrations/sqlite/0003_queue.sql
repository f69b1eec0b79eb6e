-- The virtual waiting room (seed 002's Queue table): one entry per user and event, admitted in
-- position order by a per-event serving counter that advances with the admission rate, never
-- with more than max_active admissions live at once.

CREATE TABLE queue_state (
    event_id          BLOB PRIMARY KEY REFERENCES events (event_id),
    enabled           INTEGER NOT NULL,
    rate_per_min      INTEGER NOT NULL CHECK (rate_per_min > 0),
    max_active        INTEGER NOT NULL CHECK (max_active > 0),
    window_secs       INTEGER NOT NULL CHECK (window_secs > 0),
    -- The last position handed out, and the highest position admitted so far.
    next_position     INTEGER NOT NULL DEFAULT 0,
    serving_position  INTEGER NOT NULL DEFAULT 0,
    last_advanced_at  TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE TABLE queue_entries (
    entry_id       BLOB PRIMARY KEY,
    event_id       BLOB NOT NULL REFERENCES events (event_id),
    user_id        BLOB NOT NULL REFERENCES users (user_id),
    queue_position INTEGER NOT NULL,
    -- waiting, admitted (until expires_at), done (bought) or expired.
    status         TEXT NOT NULL CHECK (status IN ('waiting', 'admitted', 'done', 'expired')),
    admitted_at    TEXT,
    expires_at     TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (event_id, user_id),
    UNIQUE (event_id, queue_position)
);
CREATE INDEX queue_entries_status_idx ON queue_entries (event_id, status, queue_position);
