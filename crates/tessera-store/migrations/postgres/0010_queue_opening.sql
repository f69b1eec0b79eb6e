-- A scheduled opening: buyers may join before it, nobody is admitted until it, and the answers
-- tell each buyer when their turn is likely to come, so the crowd does not all ask at the opening.
-- places_left: the places still on sale when the admission job last counted them (at
-- places_counted_at; NULL before), so a buyer with more people ahead than places left is told so
-- and not sent back every second.
ALTER TABLE queue_state ADD COLUMN opens_at TIMESTAMPTZ;
ALTER TABLE queue_state ADD COLUMN places_left INTEGER;
ALTER TABLE queue_state ADD COLUMN places_counted_at TIMESTAMPTZ;
