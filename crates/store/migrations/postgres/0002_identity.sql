-- Identity: account status, sessions, MFA factors, invitations and login throttling.

ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('pending', 'active', 'suspended', 'deleted'));

-- Sessions: only the token's hash is stored. Ending a session sets ended_at.
CREATE TABLE sessions (
    id               UUID PRIMARY KEY NOT NULL,
    user_id          UUID NOT NULL REFERENCES users (id),
    token_hash       BYTEA NOT NULL UNIQUE,
    created_at       TIMESTAMPTZ NOT NULL,
    last_seen_at     TIMESTAMPTZ NOT NULL,
    authenticated_at TIMESTAMPTZ NOT NULL,
    mfa_at           TIMESTAMPTZ,
    source_ip        TEXT,
    user_agent       TEXT,
    -- Until a second factor is enrolled, a session may only enrol one (mandatory MFA).
    restricted       BOOLEAN NOT NULL DEFAULT FALSE,
    ended_at         TIMESTAMPTZ
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- A password accepted, a second factor still due: a short-lived challenge.
CREATE TABLE login_challenges (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- TOTP: the seed sealed with the master key; the last accepted time step (replay guard).
CREATE TABLE totp_credentials (
    user_id      UUID PRIMARY KEY NOT NULL REFERENCES users (id),
    sealed_seed  BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_step    BIGINT
);

-- Recovery codes, hashed; each used once.
CREATE TABLE recovery_codes (
    user_id   UUID NOT NULL REFERENCES users (id),
    code_hash BYTEA NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- Invitations to join an organisation: single use, time limited, only the token's hash kept.
CREATE TABLE invitations (
    token_hash      BYTEA PRIMARY KEY NOT NULL,
    organization_id UUID NOT NULL REFERENCES organizations (id),
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    invited_by      UUID NOT NULL REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    accepted_at     TIMESTAMPTZ
);

-- Per-account login throttling state (JSON), keyed by the folded email.
CREATE TABLE login_throttles (
    account    TEXT PRIMARY KEY NOT NULL,
    state      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Password reset links: single use, short-lived, only the token's hash kept.
CREATE TABLE password_resets (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
