-- Guests: accounts of another organisation let into this one. A membership is unique per
-- (organisation, account); ending it (revocation, leaving, expiry, the account's suspension
-- or deletion at home) sets revoked_at, and a later invitation accepted reopens the same row.
CREATE TABLE guest_memberships (
    organization_id UUID NOT NULL REFERENCES organizations (id),
    user_id         UUID NOT NULL REFERENCES users (id),
    invited_by      UUID NOT NULL REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX guest_memberships_by_user ON guest_memberships (user_id);

-- Invitations of an existing account as a guest: single use, time limited, only the token's
-- hash kept; accepted by that account, signed in.
CREATE TABLE guest_invitations (
    token_hash            BYTEA PRIMARY KEY NOT NULL,
    organization_id       UUID NOT NULL REFERENCES organizations (id),
    user_id               UUID NOT NULL REFERENCES users (id),
    invited_by            UUID NOT NULL REFERENCES users (id),
    created_at            TIMESTAMPTZ NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL,
    membership_expires_at TIMESTAMPTZ,
    accepted_at           TIMESTAMPTZ
);
