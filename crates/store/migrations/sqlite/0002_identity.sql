-- Identity: account status, sessions, MFA factors, invitations and login throttling.

ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('pending', 'active', 'suspended', 'deleted'));

-- Sessions: only the token's hash is stored. Ending a session sets ended_at.
CREATE TABLE sessions (
    id               BLOB PRIMARY KEY NOT NULL,
    user_id          BLOB NOT NULL REFERENCES users (id),
    token_hash       BLOB NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    last_seen_at     TEXT NOT NULL,
    authenticated_at TEXT NOT NULL,
    mfa_at           TEXT,
    source_ip        TEXT,
    user_agent       TEXT,
    -- Until a second factor is enrolled, a session may only enrol one (mandatory MFA).
    restricted       INTEGER NOT NULL DEFAULT 0,
    ended_at         TEXT
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);

-- A password accepted, a second factor still due: a short-lived challenge.
CREATE TABLE login_challenges (
    token_hash BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

-- TOTP: the seed sealed with the master key; the last accepted time step (replay guard).
CREATE TABLE totp_credentials (
    user_id      BLOB PRIMARY KEY NOT NULL REFERENCES users (id),
    sealed_seed  BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    confirmed_at TEXT,
    last_step    INTEGER
) STRICT;

-- Recovery codes, hashed; each used once.
CREATE TABLE recovery_codes (
    user_id   BLOB NOT NULL REFERENCES users (id),
    code_hash BLOB NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- Invitations to join an organisation: single use, time limited, only the token's hash kept.
CREATE TABLE invitations (
    token_hash      BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    invited_by      BLOB NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    accepted_at     TEXT
) STRICT;

-- Per-account login throttling state (JSON), keyed by the folded email.
CREATE TABLE login_throttles (
    account    TEXT PRIMARY KEY NOT NULL,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- Password reset links: single use, short-lived, only the token's hash kept.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) STRICT;
