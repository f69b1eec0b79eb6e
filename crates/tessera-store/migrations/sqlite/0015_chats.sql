-- Chats. Every event has one, with the event's id, made with the event (the trigger below, so
-- every way of adding events makes it). An event chat's members are not rows: they are the
-- event's ticket holders, organizer and door staff, so a refund or a staff change moves them
-- with nothing to keep in step. Direct and group chats list their members in chat_members.
CREATE TABLE chats (
    chat_id         BLOB PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('event', 'direct', 'group')),
    event_id        BLOB UNIQUE REFERENCES events (event_id),
    name            TEXT,
    -- A direct chat's two members, the lower id first: a pair has one direct chat.
    direct_key      TEXT UNIQUE,
    created_by      BLOB REFERENCES users (user_id),
    -- The last change's number. A message, an edit or a deletion takes the next one by updating
    -- this row inside its write transaction: the numbers follow commit order, no gaps.
    last_seq        INTEGER NOT NULL DEFAULT 0,
    last_message_id BLOB,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX chats_updated_idx ON chats (updated_at, chat_id);

-- A person's place in a chat: `member` for the listed members of direct and group chats; for an
-- event chat the row only keeps a member's read marker and a moderator's mute.
CREATE TABLE chat_members (
    chat_id       BLOB NOT NULL REFERENCES chats (chat_id),
    user_id       BLOB NOT NULL REFERENCES users (user_id),
    member        INTEGER NOT NULL,
    last_read_seq INTEGER NOT NULL DEFAULT 0,
    muted_until   TEXT,
    joined_at     TEXT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user_idx ON chat_members (user_id) WHERE member;

-- Messages. `seq` is the change number it was sent with (the history's order); `change_seq`
-- its latest change's, which an edit or deletion moves on, so "what changed after N" is one
-- index range. A deleted message keeps its row as a tombstone with an empty body.
CREATE TABLE messages (
    message_id BLOB PRIMARY KEY,
    chat_id    BLOB NOT NULL REFERENCES chats (chat_id),
    seq        INTEGER NOT NULL,
    change_seq INTEGER NOT NULL,
    sender_id  BLOB NOT NULL REFERENCES users (user_id),
    body       TEXT NOT NULL,
    -- The sender's id for the send: a retry with the same one is the same message.
    client_id  TEXT,
    created_at TEXT NOT NULL,
    edited_at  TEXT,
    deleted_at TEXT,
    deleted_by BLOB REFERENCES users (user_id)
);
CREATE UNIQUE INDEX messages_seq_idx ON messages (chat_id, seq);
CREATE UNIQUE INDEX messages_change_idx ON messages (chat_id, change_seq);
CREATE UNIQUE INDEX messages_client_idx ON messages (chat_id, sender_id, client_id) WHERE client_id IS NOT NULL;

-- Ticket holders of an event, for its chat's membership.
CREATE INDEX tickets_holder_event_idx ON tickets (user_id, event_id) WHERE status = 'valid';

INSERT INTO chats (chat_id, kind, event_id, created_at, updated_at)
SELECT event_id, 'event', event_id, created_at, created_at FROM events;

CREATE TRIGGER events_chat AFTER INSERT ON events FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO chats (chat_id, kind, event_id, created_at, updated_at)
    VALUES (NEW.event_id, 'event', NEW.event_id, NEW.created_at, NEW.created_at);
END;
