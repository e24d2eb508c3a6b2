-- Organisations, projects, users, API keys and the audit events that record every change.

CREATE TABLE organizations (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    name_folded TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('provider', 'customer')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Exactly one provider organisation may exist: it is what `rampart init` creates once.
CREATE UNIQUE INDEX organizations_one_provider ON organizations (kind) WHERE kind = 'provider';

CREATE TABLE projects (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE RESTRICT,
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, name_folded)
);

CREATE TABLE users (
    id                     UUID PRIMARY KEY,
    organization_id        UUID NOT NULL REFERENCES organizations (id) ON DELETE RESTRICT,
    email                  TEXT NOT NULL,
    email_folded           TEXT NOT NULL UNIQUE,
    role                   TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    password_hash          TEXT,
    setup_token_hash       BYTEA UNIQUE,
    setup_token_expires_at TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_by_organization ON users (organization_id);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    secret_hash  BYTEA NOT NULL UNIQUE,
    description  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_by_user ON api_keys (user_id);

-- The audit log: one append-only Merkle tree per organisation (docs/design/0002).
-- No foreign key to organizations: the trail of an organisation outlives it (evidence).

-- The size of each organisation's tree. Reserving indices bumps it, which row-locks the head:
-- concurrent writers to one organisation take indices one after the other.
CREATE TABLE audit_heads (
    organization_id UUID PRIMARY KEY NOT NULL,
    size            BIGINT NOT NULL
);

-- One row per entry. `leaf` is the exact committed leaf; the other columns repeat some of its
-- fields for filtering. `personal` holds the clear personal values and their salts (JSON);
-- erasure removes them and leaves the leaf, which only commits to salted hashes.
CREATE TABLE audit_entries (
    organization_id UUID NOT NULL,
    idx             BIGINT NOT NULL,
    time            TIMESTAMPTZ NOT NULL,
    actor_id        TEXT,
    action          TEXT NOT NULL,
    resource_kind   TEXT NOT NULL,
    resource_id     TEXT,
    outcome         TEXT NOT NULL,
    privileged      BOOLEAN NOT NULL,
    leaf            BYTEA NOT NULL,
    personal        JSONB NOT NULL,
    PRIMARY KEY (organization_id, idx)
);

-- Every complete subtree hash (level 0 = leaf hashes): proofs read O(log n) of them.
CREATE TABLE audit_nodes (
    organization_id UUID NOT NULL,
    level           BIGINT NOT NULL,
    idx             BIGINT NOT NULL,
    hash            BYTEA NOT NULL,
    PRIMARY KEY (organization_id, level, idx)
);

-- Signed checkpoints (C2SP signed note), at most one per tree size.
CREATE TABLE audit_checkpoints (
    organization_id UUID NOT NULL,
    size            BIGINT NOT NULL,
    root            BYTEA NOT NULL,
    note            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, size)
);

-- The deployment's checkpoint signing keys; seeds encrypted with the master key (AES-256-GCM).
CREATE TABLE audit_signing_keys (
    key_id         BYTEA PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    public_key     BYTEA NOT NULL,
    sealed_seed    BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    retired_at     TIMESTAMPTZ
);
