-- Booking: ticket types, seats (and unnumbered general-admission places), holds, wallet, payments.
-- Every seat, quota, balance and hold change is one conditional UPDATE checked by rows affected.

ALTER TABLE events ADD COLUMN seating TEXT NOT NULL DEFAULT 'general' CHECK (seating IN ('general', 'seated'));
ALTER TABLE events ADD COLUMN hold_secs INTEGER NOT NULL DEFAULT 300 CHECK (hold_secs BETWEEN 30 AND 86400);
ALTER TABLE events ADD COLUMN max_per_person INTEGER NOT NULL DEFAULT 10 CHECK (max_per_person > 0);

-- Wallet: the cached balance; balance_ledger is the truth it must always equal.
ALTER TABLE users ADD COLUMN balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0);

CREATE TABLE ticket_types (
    ticket_type_id    BLOB PRIMARY KEY,
    event_id          BLOB NOT NULL REFERENCES events (event_id),
    name              TEXT NOT NULL,
    price             INTEGER NOT NULL CHECK (price >= 0),
    quota             INTEGER NOT NULL CHECK (quota > 0),
    per_person_limit  INTEGER NOT NULL CHECK (per_person_limit > 0),
    sale_starts_at    TEXT,
    sale_ends_at      TEXT,
    requires_approval INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (event_id, name)
);

-- One row per place that can be sold: a numbered seat of a seated event, or an unnumbered
-- general-admission place of a ticket type (its quota). A hold whose held_until has passed counts
-- as available everywhere.
CREATE TABLE seats (
    event_id       BLOB NOT NULL REFERENCES events (event_id),
    seat_number    INTEGER NOT NULL CHECK (seat_number > 0),
    ticket_type_id BLOB REFERENCES ticket_types (ticket_type_id),
    section        TEXT,
    row_label      TEXT,
    price          INTEGER NOT NULL CHECK (price >= 0),
    status         TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'held', 'sold')),
    reservation_id BLOB,
    held_until     TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (event_id, seat_number)
);
CREATE INDEX seats_status_idx ON seats (event_id, status, seat_number);
CREATE INDEX seats_type_idx ON seats (ticket_type_id, status, seat_number);
CREATE INDEX seats_reservation_idx ON seats (reservation_id);

CREATE TABLE reservations (
    reservation_id   BLOB PRIMARY KEY,
    user_id          BLOB NOT NULL REFERENCES users (user_id),
    event_id         BLOB NOT NULL REFERENCES events (event_id),
    ticket_type_id   BLOB REFERENCES ticket_types (ticket_type_id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'completed', 'cancelled', 'expired')),
    reserved_at      TEXT NOT NULL,
    payment_deadline TEXT NOT NULL,
    completed_at     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX reservations_user_idx ON reservations (user_id, event_id, status);
CREATE INDEX reservations_pending_idx ON reservations (status, payment_deadline);

CREATE TABLE payments (
    payment_id     BLOB PRIMARY KEY,
    reservation_id BLOB NOT NULL UNIQUE REFERENCES reservations (reservation_id),
    user_id        BLOB NOT NULL REFERENCES users (user_id),
    amount         INTEGER NOT NULL CHECK (amount >= 0),
    payment_status TEXT NOT NULL CHECK (payment_status IN ('pending', 'success', 'failed', 'refunded')),
    payment_method TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- Append-only: the balance is the sum of amount per user.
CREATE TABLE balance_ledger (
    entry_id      BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL REFERENCES users (user_id),
    amount        INTEGER NOT NULL,
    balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
    kind          TEXT NOT NULL CHECK (kind IN ('charge', 'payment', 'refund')),
    reference_id  BLOB,
    created_at    TEXT NOT NULL
);
CREATE INDEX balance_ledger_user_idx ON balance_ledger (user_id, created_at, entry_id);

ALTER TABLE purchases ADD COLUMN reservation_id BLOB REFERENCES reservations (reservation_id);
ALTER TABLE purchases ADD COLUMN status TEXT NOT NULL DEFAULT 'completed' CHECK (status IN ('completed', 'refunded'));
CREATE UNIQUE INDEX purchases_reservation_idx ON purchases (reservation_id);
ALTER TABLE purchases ADD COLUMN refunded_at TEXT;

CREATE TABLE tickets (
    ticket_id      BLOB PRIMARY KEY,
    purchase_id    BLOB NOT NULL REFERENCES purchases (purchase_id),
    event_id       BLOB NOT NULL REFERENCES events (event_id),
    user_id        BLOB NOT NULL REFERENCES users (user_id),
    ticket_type_id BLOB REFERENCES ticket_types (ticket_type_id),
    seat_number    INTEGER,
    status         TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'void')),
    created_at     TEXT NOT NULL
);
CREATE INDEX tickets_purchase_idx ON tickets (purchase_id);
CREATE INDEX tickets_user_idx ON tickets (user_id);

-- Idempotency-Key records: the first successful payment for a key, replayed for retries.
CREATE TABLE idempotency_keys (
    user_id      BLOB NOT NULL REFERENCES users (user_id),
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    payment_id   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
