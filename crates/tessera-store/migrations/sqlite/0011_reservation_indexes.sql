-- Reservation indexes that a payment does not have to move. Both held the status, so paying
-- (pending → completed) deleted and re-inserted an entry in each: the per-person one sits on a
-- page chosen by the buyer's id, so in a flash sale every payment wrote one more scattered index
-- page. The per-person limit reads the few reservations of one person and event and checks their
-- status in the rows; the sweeper reads only pending holds, so its index holds only those.
DROP INDEX reservations_user_idx;
CREATE INDEX reservations_user_idx ON reservations (user_id, event_id);
DROP INDEX reservations_pending_idx;
CREATE INDEX reservations_pending_idx ON reservations (payment_deadline) WHERE status = 'pending';
