-- The admission job counts the live admissions of an event four times a second: admitted entries
-- whose window has not ended. The status index had no expires_at, so the count visited the table
-- row of every admitted entry (~10,000 in a flash sale, so ~40,000 row lookups a second on the
-- database's only writer). With expires_at at the end of the same index, the count reads the
-- index alone; the index's entries change exactly when they did before (status and expires_at
-- change together). Measured on a table shaped like a sale's queue (200,000 entries, 10,000 admitted;
-- Python's SQLite 3.40): 4.0 ms a count before, 1.8 ms after.
DROP INDEX queue_entries_status_idx;
CREATE INDEX queue_entries_status_idx ON queue_entries (event_id, status, queue_position, expires_at);
