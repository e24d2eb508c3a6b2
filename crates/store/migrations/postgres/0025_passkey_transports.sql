-- Passkeys remember how their authenticator is reached, and an invited person may create their
-- account with a passkey instead of a password.

-- The transports the client reported when the passkey was registered (a JSON array of
-- WebAuthn transport names such as "internal" or "hybrid"), handed back as hints in the
-- `allowCredentials` of later ceremonies. Passkeys registered before this know none.
ALTER TABLE passkeys ADD COLUMN transports TEXT NOT NULL DEFAULT '[]';

-- A ceremony may now register the first passkey of an account an invitation creates.
ALTER TABLE webauthn_ceremonies DROP CONSTRAINT webauthn_ceremonies_purpose_check;
ALTER TABLE webauthn_ceremonies ADD CONSTRAINT webauthn_ceremonies_purpose_check
    CHECK (purpose IN ('register', 'second_factor', 'login', 'step_up', 'invitation'));
