-- Pseudonymisation domains of an organisation and their versioned root keys. A key is stored
-- only sealed under the server's master key; old versions are kept so that tokens made with
-- them can still be read back.

CREATE TABLE pseudonym_domains (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (organization_id, name)
) STRICT;

CREATE TABLE pseudonym_keys (
    domain_id  BLOB NOT NULL REFERENCES pseudonym_domains (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version >= 1),
    sealed_key BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (domain_id, version)
) STRICT;
