-- A reissued ticket is the same admission as the ticket it replaces: its door state is kept
-- under the first ticket of the chain (NULL: the ticket is the first, its own admission), so no
-- chain of reissues can let in more people than the purchase bought.
ALTER TABLE tickets ADD COLUMN admission_id BLOB REFERENCES tickets (ticket_id);
CREATE INDEX tickets_admission_idx ON tickets (admission_id) WHERE admission_id IS NOT NULL;

-- Sessions end on a password change, an admin's reset and a disabled account (tokens issued
-- before `sessions_valid_after` stop working), and on a logout or a role change (a new
-- `token_generation`: access tokens carry the one they were issued under).
ALTER TABLE users ADD COLUMN sessions_valid_after TEXT;
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at TEXT;

-- Idempotency-Key records serve wallet top-ups as well as payments: `payment_id` is then the
-- top-up's ledger entry.
ALTER TABLE idempotency_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'payment' CHECK (kind IN ('payment', 'charge'));

-- Login and join rate-limit windows that have closed are deleted by the sweeper.
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

-- A synced scan's validity is checked no earlier than its device's last sync.
CREATE INDEX checkins_device_sync_idx ON checkins (scanned_by, device_id, recorded_at) WHERE source = 'offline';

-- Every change that ends sessions or changes what a token may do (a logout, a password change or
-- reset, a role change, a disabled account), so each instance learns of it within a second
-- without reading the user on every request. Rows older than the access-token lifetime are
-- deleted by the sweeper (every token issued before them has expired).
CREATE TABLE auth_changes (
    user_id    BLOB NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    changed_at TEXT NOT NULL
);
CREATE INDEX auth_changes_at_idx ON auth_changes (changed_at);
