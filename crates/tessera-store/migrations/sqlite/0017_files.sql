-- Uploaded files. Their bytes live in the object store (a local directory or S3) under their
-- id; a row is written only once the bytes are stored, and a deleted file keeps its row.
-- Who may read one follows what it is attached to: an event's image (event_id) anyone; a
-- chat message's attachment the chat's members; anything else its owner and admins.
CREATE TABLE files (
    file_id      BLOB PRIMARY KEY,
    owner_id     BLOB NOT NULL REFERENCES users (user_id),
    event_id     BLOB REFERENCES events (event_id),
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX files_owner_idx ON files (owner_id, created_at);

ALTER TABLE messages ADD COLUMN file_id BLOB REFERENCES files (file_id);
CREATE INDEX messages_file_idx ON messages (file_id) WHERE file_id IS NOT NULL;
