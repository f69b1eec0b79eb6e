-- Seat indexes that hold only the rows their queries look for. A numbered seat has no ticket
-- type, and an available one no reservation: in the full indexes every hold and every sale of a
-- numbered seat moved its entries about (out of the NULL group and into another), two more
-- index pages written per seat change for entries no query reads. Queries name a ticket type or
-- a reservation by equality, which implies IS NOT NULL, so both databases still use these.
DROP INDEX seats_type_idx;
CREATE INDEX seats_type_idx ON seats (ticket_type_id, status, seat_number) WHERE ticket_type_id IS NOT NULL;
DROP INDEX seats_reservation_idx;
CREATE INDEX seats_reservation_idx ON seats (reservation_id) WHERE reservation_id IS NOT NULL;
