-- The admission job's own clock, in milliseconds since the Unix epoch. Stored timestamps keep
-- whole seconds (text sorts in time order only when every value has the same shape), and with
-- them the job, ticking four times a second, could only admit once a second: every tick within
-- a second saw no time pass, and the first admissions came up to a second after the opening (the
-- flash benchmark's opening second sold anywhere from nothing to 4,655 seats, by where in its
-- second the opening fell). These are never compared in SQL, only read back by the job; NULL
-- (before the first tick, or after a settings change) falls back to the whole-second columns.
ALTER TABLE queue_state ADD COLUMN rate_clock_ms INTEGER;
ALTER TABLE queue_state ADD COLUMN ticked_ms INTEGER;
