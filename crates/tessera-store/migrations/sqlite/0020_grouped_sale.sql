-- PostgreSQL's 0020 adds the functions its grouped holds and payments call; SQLite's grouped
-- writer runs those steps inline (sqlite/), so there is nothing to add here. Kept so the two
-- migration histories stay numbered alike.
SELECT 1;
