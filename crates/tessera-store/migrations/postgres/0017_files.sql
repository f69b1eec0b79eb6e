-- Uploaded files. Their bytes live in the object store (a local directory or S3) under their
-- id; a row is written only once the bytes are stored, and a deleted file keeps its row.
-- Who may read one follows what it is attached to: an event's image (event_id) anyone; a
-- chat message's attachment the chat's members; anything else its owner and admins.
CREATE TABLE files (
    file_id      UUID PRIMARY KEY,
    owner_id     UUID NOT NULL REFERENCES users (user_id),
    event_id     UUID REFERENCES events (event_id),
    filename     VARCHAR(255) NOT NULL,
    content_type VARCHAR(100) NOT NULL,
    size         BIGINT NOT NULL,
    sha256       CHAR(64) NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    deleted_at   TIMESTAMPTZ
);
CREATE INDEX files_owner_idx ON files (owner_id, created_at);

ALTER TABLE messages ADD COLUMN file_id UUID REFERENCES files (file_id);
CREATE INDEX messages_file_idx ON messages (file_id) WHERE file_id IS NOT NULL;
