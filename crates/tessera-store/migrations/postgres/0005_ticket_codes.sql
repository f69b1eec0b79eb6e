-- Ticket codes: each event signs its tickets with its own Ed25519 keys. A private key is stored
-- sealed with the server's master key (never in clear). One key signs new codes ('signing');
-- keys rotated out still verify the codes they signed ('verifying') until they are retired.
CREATE TABLE event_keys (
    event_id      UUID NOT NULL REFERENCES events (event_id),
    key_id        INTEGER NOT NULL CHECK (key_id BETWEEN 1 AND 255),
    public_key    BYTEA NOT NULL,
    sealed_secret BYTEA NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('signing', 'verifying', 'retired')),
    created_at    TIMESTAMPTZ NOT NULL,
    retired_at    TIMESTAMPTZ,
    PRIMARY KEY (event_id, key_id)
);
CREATE UNIQUE INDEX event_keys_one_signing_idx ON event_keys (event_id) WHERE status = 'signing';

-- A ticket's code is signed with the event's signing key when the code is first issued (so a
-- payment writes nothing more); voided tickets are the event's revocation list, indexed alone so
-- issuing valid tickets costs no extra index write.
ALTER TABLE tickets ADD COLUMN key_id INTEGER;
ALTER TABLE tickets ADD COLUMN voided_at TIMESTAMPTZ;
CREATE INDEX tickets_void_idx ON tickets (event_id) WHERE status = 'void';
