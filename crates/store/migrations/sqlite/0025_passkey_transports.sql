-- Passkeys remember how their authenticator is reached, and an invited person may create their
-- account with a passkey instead of a password.

-- The transports the client reported when the passkey was registered (a JSON array of
-- WebAuthn transport names such as "internal" or "hybrid"), handed back as hints in the
-- `allowCredentials` of later ceremonies. Passkeys registered before this know none.
ALTER TABLE passkeys ADD COLUMN transports TEXT NOT NULL DEFAULT '[]';

-- A ceremony may now register the first passkey of an account an invitation creates. SQLite
-- cannot change a CHECK in place; the table holds only minutes-long state, so it is made anew
-- (a ceremony in flight during the upgrade is started again).
DROP TABLE webauthn_ceremonies;
CREATE TABLE webauthn_ceremonies (
    token_hash BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB REFERENCES users (id),
    purpose    TEXT NOT NULL
        CHECK (purpose IN ('register', 'second_factor', 'login', 'step_up', 'invitation')),
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
