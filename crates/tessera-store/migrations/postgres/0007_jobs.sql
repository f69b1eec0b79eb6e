-- Background work that must survive a restart (DESIGN: jobs are enqueued in the transaction of the
-- write that causes them). A worker claims a due job with one conditional update (a lease that
-- lapses if the worker dies), runs it, and marks it done; a failure is retried later with backoff.
CREATE TABLE jobs (
    job_id         UUID PRIMARY KEY,
    kind           TEXT NOT NULL,
    -- JSON arguments.
    payload        TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL DEFAULT 8,
    run_at         TIMESTAMPTZ NOT NULL,
    locked_until   TIMESTAMPTZ,
    last_error     TEXT,
    progress_done  INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER,
    created_by     UUID,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_due_idx ON jobs (status, run_at);

-- When the holder was last sent this ticket (bulk sends skip those already sent).
ALTER TABLE tickets ADD COLUMN mailed_at TIMESTAMPTZ;
