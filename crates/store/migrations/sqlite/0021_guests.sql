-- Guests: accounts of another organisation let into this one. A membership is unique per
-- (organisation, account); ending it (revocation, leaving, expiry, the account's suspension
-- or deletion at home) sets revoked_at, and a later invitation accepted reopens the same row.
CREATE TABLE guest_memberships (
    organization_id BLOB NOT NULL REFERENCES organizations (id),
    user_id         BLOB NOT NULL REFERENCES users (id),
    invited_by      BLOB NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    expires_at      TEXT,
    revoked_at      TEXT,
    PRIMARY KEY (organization_id, user_id)
) STRICT;
CREATE INDEX guest_memberships_by_user ON guest_memberships (user_id);

-- Invitations of an existing account as a guest: single use, time limited, only the token's
-- hash kept; accepted by that account, signed in.
CREATE TABLE guest_invitations (
    token_hash            BLOB PRIMARY KEY NOT NULL,
    organization_id       BLOB NOT NULL REFERENCES organizations (id),
    user_id               BLOB NOT NULL REFERENCES users (id),
    invited_by            BLOB NOT NULL REFERENCES users (id),
    created_at            TEXT NOT NULL,
    expires_at            TEXT NOT NULL,
    membership_expires_at TEXT,
    accepted_at           TEXT
) STRICT;
