-- PostgreSQL's 0021 replaces its grouped hold function; nothing changes on SQLite. Kept so the
-- two migration histories stay numbered alike.
SELECT 1;
