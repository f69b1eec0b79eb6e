-- The waiting room's observed pace: admissions per minute, smoothed over the admission ticks
-- (updated_at is the last tick). Estimates and poll hints use it instead of the configured
-- rate, which a busy sale does not reach.
ALTER TABLE queue_state ADD COLUMN admitted_per_min INTEGER NOT NULL DEFAULT 0;
