-- Passkeys (WebAuthn credentials) and the short-lived state of their ceremonies.

-- One row per registered credential. `passkey` is the relying party library's serialised
-- credential: the public key, the signature counter and the backup flags, rewritten after a
-- use that changes them. It holds no secret; it is never returned by the API.
CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id),
    credential_id BLOB NOT NULL UNIQUE,
    passkey       TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
) STRICT;
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A ceremony started and not finished: its challenge state, bound to an account (none for a
-- passwordless login, whose account the authenticator names), single use, short-lived. Keyed
-- by the hash of the token the client echoes (for a second factor, the login's mfa_token).
CREATE TABLE webauthn_ceremonies (
    token_hash BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB REFERENCES users (id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('register', 'second_factor', 'login', 'step_up')),
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
