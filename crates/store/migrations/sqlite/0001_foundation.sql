-- Organisations, projects, users, API keys and the audit events that record every change.
-- References use the default NO ACTION rule: SQLite reports it as a foreign-key violation
-- (RESTRICT would surface as a trigger error).
-- Timestamps are RFC 3339 text in UTC; ids are 16-byte UUID blobs.

CREATE TABLE organizations (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    name_folded TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('provider', 'customer')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

-- Exactly one provider organisation may exist: it is what `rampart init` creates once.
CREATE UNIQUE INDEX organizations_one_provider ON organizations (kind) WHERE kind = 'provider';

CREATE TABLE projects (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (organization_id, name_folded)
) STRICT;

CREATE TABLE users (
    id                     BLOB PRIMARY KEY NOT NULL,
    organization_id        BLOB NOT NULL REFERENCES organizations (id),
    email                  TEXT NOT NULL,
    email_folded           TEXT NOT NULL UNIQUE,
    role                   TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    password_hash          TEXT,
    setup_token_hash       BLOB UNIQUE,
    setup_token_expires_at TEXT,
    created_at             TEXT NOT NULL
) STRICT;
CREATE INDEX users_by_organization ON users (organization_id);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id),
    secret_hash  BLOB NOT NULL UNIQUE,
    description  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;
CREATE INDEX api_keys_by_user ON api_keys (user_id);

-- No foreign key to organizations: the trail of an organisation outlives it (evidence).
CREATE TABLE audit_events (
    organization_id BLOB NOT NULL,
    sequence        INTEGER NOT NULL,
    time            TEXT NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    action          TEXT NOT NULL,
    resource_kind   TEXT NOT NULL,
    resource_id     TEXT,
    outcome         TEXT NOT NULL,
    privileged      INTEGER NOT NULL,
    event           TEXT NOT NULL,
    PRIMARY KEY (organization_id, sequence)
) STRICT;

-- The length of each organisation's trail. Bumping it row-locks the head, so concurrent
-- writers to one organisation take sequence numbers one after the other.
CREATE TABLE audit_heads (
    organization_id BLOB PRIMARY KEY NOT NULL,
    size            INTEGER NOT NULL
) STRICT;
