-- Foundation: accounts, catalogue, purchases (seed 000's columns; money in integer minor units).

CREATE TABLE users (
    user_id       BLOB PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT  NOT NULL DEFAULT 'attendee'
                  CHECK (role IN ('attendee', 'organizer', 'staff', 'admin')),
    phone_number  TEXT,
    created_at    TEXT  NOT NULL,
    updated_at    TEXT  NOT NULL
);
CREATE INDEX users_created_idx ON users (created_at, user_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    family_id   BLOB NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    api_key_id  BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE events (
    event_id      BLOB PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT,
    location      TEXT,
    start_time    TEXT NOT NULL,
    end_time      TEXT,
    organizer     TEXT NOT NULL,
    organizer_id  BLOB REFERENCES users (user_id) ON DELETE SET NULL,
    category      TEXT,
    price         INTEGER CHECK (price >= 0),
    currency      TEXT NOT NULL DEFAULT 'JPY',
    max_attendees INTEGER CHECK (max_attendees > 0),
    url           TEXT,
    status        TEXT NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'cancelled')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CHECK (end_time IS NULL OR end_time >= start_time)
);
CREATE INDEX events_start_idx ON events (start_time, event_id);
CREATE INDEX events_created_idx ON events (created_at, event_id);
CREATE INDEX events_category_idx ON events (category);
CREATE INDEX events_organizer_idx ON events (organizer_id);

CREATE TABLE purchases (
    purchase_id     BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL REFERENCES users (user_id),
    event_id        BLOB NOT NULL REFERENCES events (event_id),
    purchase_time   TEXT NOT NULL,
    ticket_quantity INTEGER NOT NULL CHECK (ticket_quantity > 0),
    total_price     INTEGER NOT NULL CHECK (total_price >= 0)
);
CREATE INDEX purchases_event_idx ON purchases (event_id, purchase_time, purchase_id);
CREATE INDEX purchases_user_idx ON purchases (user_id, purchase_time, purchase_id);

-- Fixed-window counters for rate limits, shared by every instance.
CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL
);

-- Server-generated secrets (e.g. the token signing key when none is configured), shared by instances.
CREATE TABLE app_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
