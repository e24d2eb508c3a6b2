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

-- No foreign key to organizations: the trail of an organisation outlives it (evidence).
CREATE TABLE audit_events (
    organization_id UUID NOT NULL,
    sequence        BIGINT NOT NULL,
    time            TIMESTAMPTZ NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    action          TEXT NOT NULL,
    resource_kind   TEXT NOT NULL,
    resource_id     TEXT,
    outcome         TEXT NOT NULL,
    privileged      BOOLEAN NOT NULL,
    event           JSONB NOT NULL,
    PRIMARY KEY (organization_id, sequence)
);

-- The length of each organisation's trail. Bumping it row-locks the head, so concurrent
-- writers to one organisation take sequence numbers one after the other.
CREATE TABLE audit_heads (
    organization_id UUID PRIMARY KEY NOT NULL,
    size            BIGINT NOT NULL
);
