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

-- The audit log: one append-only Merkle tree per organisation (docs/design/0002).
-- No foreign key to organizations: the trail of an organisation outlives it (evidence).

-- The size of each organisation's tree. Reserving indices bumps it, which row-locks the head:
-- concurrent writers to one organisation take indices one after the other.
CREATE TABLE audit_heads (
    organization_id BLOB PRIMARY KEY NOT NULL,
    size            INTEGER NOT NULL
) STRICT;

-- One row per entry. `leaf` is the exact committed leaf; the other columns repeat some of its
-- fields for filtering. `personal` holds the clear personal values and their salts (JSON);
-- erasure removes them and leaves the leaf, which only commits to salted hashes.
CREATE TABLE audit_entries (
    organization_id BLOB NOT NULL,
    idx             INTEGER NOT NULL,
    time            TEXT NOT NULL,
    actor_id        TEXT,
    action          TEXT NOT NULL,
    resource_kind   TEXT NOT NULL,
    resource_id     TEXT,
    outcome         TEXT NOT NULL,
    privileged      INTEGER NOT NULL,
    leaf            BLOB NOT NULL,
    personal        TEXT NOT NULL,
    PRIMARY KEY (organization_id, idx)
) STRICT;

-- Every complete subtree hash (level 0 = leaf hashes): proofs read O(log n) of them.
CREATE TABLE audit_nodes (
    organization_id BLOB NOT NULL,
    level           INTEGER NOT NULL,
    idx             INTEGER NOT NULL,
    hash            BLOB NOT NULL,
    PRIMARY KEY (organization_id, level, idx)
) STRICT;

-- Signed checkpoints (C2SP signed note), at most one per tree size.
CREATE TABLE audit_checkpoints (
    organization_id BLOB NOT NULL,
    size            INTEGER NOT NULL,
    root            BLOB NOT NULL,
    note            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, size)
) STRICT;

-- The deployment's checkpoint signing keys; seeds encrypted with the master key (AES-256-GCM).
CREATE TABLE audit_signing_keys (
    key_id         BLOB PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    public_key     BLOB NOT NULL,
    sealed_seed    BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    retired_at     TEXT
) STRICT;
