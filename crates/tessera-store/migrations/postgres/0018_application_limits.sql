-- A per-person limit counts what a person already applied for: someone holding 1 of 2 may
-- apply for 1 more. One pending application per person and type at a time (so two racing
-- applications cannot both pass the limit's check: the second meets this index); approved ones
-- may be many.
DROP INDEX applications_live_idx;
CREATE UNIQUE INDEX applications_pending_idx ON applications (ticket_type_id, user_id)
    WHERE status = 'pending';
-- A person's applications (their list, and the limit's sum).
CREATE INDEX applications_user_idx ON applications (user_id, ticket_type_id);
