-- Non-human principals (applications) and groups; API keys held by a user or an application.

CREATE TABLE applications (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,
    description     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (organization_id, name_folded)
) STRICT;

CREATE TABLE groups (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (organization_id, name_folded)
) STRICT;

-- A member is a user or an application of the group's organisation.
CREATE TABLE group_members (
    group_id    BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_kind TEXT NOT NULL CHECK (member_kind IN ('user', 'application')),
    member_id   BLOB NOT NULL,
    added_at    TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) STRICT;
CREATE INDEX group_members_by_member ON group_members (member_id);

-- SQLite cannot relax a NOT NULL column in place: rebuild api_keys with either holder.
CREATE TABLE api_keys_with_holder (
    id             BLOB PRIMARY KEY NOT NULL,
    user_id        BLOB REFERENCES users (id),
    application_id BLOB REFERENCES applications (id),
    secret_hash    BLOB NOT NULL UNIQUE,
    description    TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT,
    last_used_at   TEXT,
    revoked_at     TEXT,
    CHECK ((user_id IS NULL) <> (application_id IS NULL))
) STRICT;
INSERT INTO api_keys_with_holder
    (id, user_id, application_id, secret_hash, description, created_at, expires_at, last_used_at, revoked_at)
    SELECT id, user_id, NULL, secret_hash, description, created_at, expires_at, last_used_at, revoked_at
    FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_with_holder RENAME TO api_keys;
CREATE INDEX api_keys_by_user ON api_keys (user_id);
CREATE INDEX api_keys_by_application ON api_keys (application_id);
