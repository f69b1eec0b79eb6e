-- Foundation: accounts, catalogue, purchases (seed 000's columns; money in integer minor units).

CREATE TABLE users (
    user_id       UUID PRIMARY KEY,
    name          VARCHAR(255) NOT NULL,
    email         VARCHAR(255) NOT NULL UNIQUE,
    password_hash VARCHAR(255) NOT NULL,
    role          VARCHAR(16)  NOT NULL DEFAULT 'attendee'
                  CHECK (role IN ('attendee', 'organizer', 'staff', 'admin')),
    phone_number  VARCHAR(15),
    created_at    TIMESTAMPTZ  NOT NULL,
    updated_at    TIMESTAMPTZ  NOT NULL
);
CREATE INDEX users_created_idx ON users (created_at, user_id);

CREATE TABLE refresh_tokens (
    token_hash  VARCHAR(64) PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    family_id   UUID NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    api_key_id  UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name        VARCHAR(100) NOT NULL,
    prefix      VARCHAR(16) NOT NULL,
    key_hash    VARCHAR(64) NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE events (
    event_id      UUID PRIMARY KEY,
    name          VARCHAR(255) NOT NULL,
    description   TEXT,
    location      VARCHAR(255),
    start_time    TIMESTAMPTZ NOT NULL,
    end_time      TIMESTAMPTZ,
    organizer     VARCHAR(255) NOT NULL,
    organizer_id  UUID REFERENCES users (user_id) ON DELETE SET NULL,
    category      VARCHAR(100),
    price         BIGINT CHECK (price >= 0),
    currency      CHAR(3) NOT NULL DEFAULT 'JPY',
    max_attendees INTEGER CHECK (max_attendees > 0),
    url           VARCHAR(255),
    status        VARCHAR(16) NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'cancelled')),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CHECK (end_time IS NULL OR end_time >= start_time)
);
CREATE INDEX events_start_idx ON events (start_time, event_id);
CREATE INDEX events_created_idx ON events (created_at, event_id);
CREATE INDEX events_category_idx ON events (category);
CREATE INDEX events_organizer_idx ON events (organizer_id);

CREATE TABLE purchases (
    purchase_id     UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (user_id),
    event_id        UUID NOT NULL REFERENCES events (event_id),
    purchase_time   TIMESTAMPTZ NOT NULL,
    ticket_quantity INTEGER NOT NULL CHECK (ticket_quantity > 0),
    total_price     BIGINT NOT NULL CHECK (total_price >= 0)
);
CREATE INDEX purchases_event_idx ON purchases (event_id, purchase_time, purchase_id);
CREATE INDEX purchases_user_idx ON purchases (user_id, purchase_time, purchase_id);

-- Fixed-window counters for rate limits, shared by every instance.
CREATE TABLE rate_limits (
    bucket       VARCHAR(300) PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits         INTEGER NOT NULL
);

-- Server-generated secrets (e.g. the token signing key when none is configured), shared by instances.
CREATE TABLE app_secrets (
    name  VARCHAR(64) PRIMARY KEY,
    value TEXT NOT NULL
);
