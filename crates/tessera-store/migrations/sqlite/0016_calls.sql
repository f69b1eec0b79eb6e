-- Calls between two people. A ringing call that nobody answered within the ring time counts as
-- missed wherever it is read (and is marked so when next touched), so no timer has to have run.
CREATE TABLE calls (
    call_id     BLOB PRIMARY KEY,
    caller_id   BLOB NOT NULL REFERENCES users (user_id),
    receiver_id BLOB NOT NULL REFERENCES users (user_id),
    chat_id     BLOB REFERENCES chats (chat_id),
    status      TEXT NOT NULL CHECK (status IN ('ringing', 'active', 'declined', 'ended', 'missed')),
    created_at  TEXT NOT NULL,
    answered_at TEXT,
    ended_at    TEXT,
    ended_by    BLOB REFERENCES users (user_id)
);
CREATE INDEX calls_caller_idx ON calls (caller_id, created_at);
CREATE INDEX calls_receiver_idx ON calls (receiver_id, created_at);
CREATE INDEX calls_live_idx ON calls (status) WHERE status IN ('ringing', 'active');

-- WebRTC signaling relayed between a live call's two parties (offers, answers, ICE candidates),
-- kept only while the call is live: instances tell each other the id, the addressee's instance
-- reads the row.
CREATE TABLE call_signals (
    signal_id  BLOB PRIMARY KEY,
    call_id    BLOB NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    from_id    BLOB NOT NULL REFERENCES users (user_id),
    to_id      BLOB NOT NULL REFERENCES users (user_id),
    kind       TEXT NOT NULL CHECK (kind IN ('offer', 'answer', 'ice')),
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX call_signals_call_idx ON call_signals (call_id);
