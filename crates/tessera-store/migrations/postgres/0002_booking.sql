-- Booking: ticket types, seats (and unnumbered general-admission places), holds, wallet, payments.
-- Every seat, quota, balance and hold change is one conditional UPDATE checked by rows affected.

ALTER TABLE events ADD COLUMN seating VARCHAR(16) NOT NULL DEFAULT 'general' CHECK (seating IN ('general', 'seated'));
ALTER TABLE events ADD COLUMN hold_secs INTEGER NOT NULL DEFAULT 300 CHECK (hold_secs BETWEEN 30 AND 86400);
ALTER TABLE events ADD COLUMN max_per_person INTEGER NOT NULL DEFAULT 10 CHECK (max_per_person > 0);

-- Wallet: the cached balance; balance_ledger is the truth it must always equal.
ALTER TABLE users ADD COLUMN balance BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0);

CREATE TABLE ticket_types (
    ticket_type_id    UUID PRIMARY KEY,
    event_id          UUID NOT NULL REFERENCES events (event_id),
    name              VARCHAR(100) NOT NULL,
    price             BIGINT NOT NULL CHECK (price >= 0),
    quota             INTEGER NOT NULL CHECK (quota > 0),
    per_person_limit  INTEGER NOT NULL CHECK (per_person_limit > 0),
    sale_starts_at    TIMESTAMPTZ,
    sale_ends_at      TIMESTAMPTZ,
    requires_approval BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (event_id, name)
);

-- One row per place that can be sold: a numbered seat of a seated event, or an unnumbered
-- general-admission place of a ticket type (its quota). A hold whose held_until has passed counts
-- as available everywhere.
CREATE TABLE seats (
    event_id       UUID NOT NULL REFERENCES events (event_id),
    seat_number    INTEGER NOT NULL CHECK (seat_number > 0),
    ticket_type_id UUID REFERENCES ticket_types (ticket_type_id),
    section        VARCHAR(50),
    row_label      VARCHAR(20),
    price          BIGINT NOT NULL CHECK (price >= 0),
    status         VARCHAR(16) NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'held', 'sold')),
    reservation_id UUID,
    held_until     TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (event_id, seat_number)
);
CREATE INDEX seats_status_idx ON seats (event_id, status, seat_number);
CREATE INDEX seats_type_idx ON seats (ticket_type_id, status, seat_number);
CREATE INDEX seats_reservation_idx ON seats (reservation_id);

CREATE TABLE reservations (
    reservation_id   UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (user_id),
    event_id         UUID NOT NULL REFERENCES events (event_id),
    ticket_type_id   UUID REFERENCES ticket_types (ticket_type_id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    amount           BIGINT NOT NULL CHECK (amount >= 0),
    status           VARCHAR(16) NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'completed', 'cancelled', 'expired')),
    reserved_at      TIMESTAMPTZ NOT NULL,
    payment_deadline TIMESTAMPTZ NOT NULL,
    completed_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX reservations_user_idx ON reservations (user_id, event_id, status);
CREATE INDEX reservations_pending_idx ON reservations (status, payment_deadline);

CREATE TABLE payments (
    payment_id     UUID PRIMARY KEY,
    reservation_id UUID NOT NULL UNIQUE REFERENCES reservations (reservation_id),
    user_id        UUID NOT NULL REFERENCES users (user_id),
    amount         BIGINT NOT NULL CHECK (amount >= 0),
    payment_status VARCHAR(16) NOT NULL CHECK (payment_status IN ('pending', 'success', 'failed', 'refunded')),
    payment_method VARCHAR(50) NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Append-only: the balance is the sum of amount per user.
CREATE TABLE balance_ledger (
    entry_id      UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (user_id),
    amount        BIGINT NOT NULL,
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    kind          VARCHAR(16) NOT NULL CHECK (kind IN ('charge', 'payment', 'refund')),
    reference_id  UUID,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX balance_ledger_user_idx ON balance_ledger (user_id, created_at, entry_id);

ALTER TABLE purchases ADD COLUMN reservation_id UUID REFERENCES reservations (reservation_id);
ALTER TABLE purchases ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'completed' CHECK (status IN ('completed', 'refunded'));
CREATE UNIQUE INDEX purchases_reservation_idx ON purchases (reservation_id);
ALTER TABLE purchases ADD COLUMN refunded_at TIMESTAMPTZ;

CREATE TABLE tickets (
    ticket_id      UUID PRIMARY KEY,
    purchase_id    UUID NOT NULL REFERENCES purchases (purchase_id),
    event_id       UUID NOT NULL REFERENCES events (event_id),
    user_id        UUID NOT NULL REFERENCES users (user_id),
    ticket_type_id UUID REFERENCES ticket_types (ticket_type_id),
    seat_number    INTEGER,
    status         VARCHAR(16) NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'void')),
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX tickets_purchase_idx ON tickets (purchase_id);
CREATE INDEX tickets_user_idx ON tickets (user_id);

-- Idempotency-Key records: the first successful payment for a key, replayed for retries.
CREATE TABLE idempotency_keys (
    user_id      UUID NOT NULL REFERENCES users (user_id),
    idem_key     VARCHAR(255) NOT NULL,
    request_hash VARCHAR(64) NOT NULL,
    payment_id   UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
