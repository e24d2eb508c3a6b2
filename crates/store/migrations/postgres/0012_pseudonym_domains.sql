-- Pseudonymisation domains of an organisation and their versioned root keys. A key is stored
-- only sealed under the server's master key; old versions are kept so that tokens made with
-- them can still be read back.

CREATE TABLE pseudonym_domains (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE pseudonym_keys (
    domain_id  UUID NOT NULL REFERENCES pseudonym_domains (id) ON DELETE CASCADE,
    version    BIGINT NOT NULL CHECK (version >= 1),
    sealed_key BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (domain_id, version)
);
