-- Information protection: each organisation's classification scheme (levels, TLP labels and
-- the level of each export, as a JSON document the application validates), its catalogue of
-- personal data categories, its retention rules and legal holds, and the record of every
-- retention run.

CREATE TABLE classification_schemes (
    organization_id BLOB PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    document        TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE TABLE data_categories (
    organization_id  BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Dotted path, `user.contact.email`; its parent path is in the catalogue too.
    path             TEXT NOT NULL,
    description      TEXT NOT NULL,
    -- A level name of the organisation's scheme, lowercase.
    classification   TEXT NOT NULL,
    special_category INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (organization_id, path)
) STRICT;

CREATE TABLE retention_rules (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    data_category   TEXT NOT NULL,
    target          TEXT NOT NULL,
    trigger_kind    TEXT NOT NULL,
    duration_days   INTEGER NOT NULL CHECK (duration_days >= 0),
    end_action      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX retention_rules_by_organization ON retention_rules (organization_id, id);

CREATE TABLE legal_holds (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    target          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    placed_at       TEXT NOT NULL,
    released_at     TEXT
) STRICT;
CREATE INDEX legal_holds_by_organization ON legal_holds (organization_id, target);

CREATE TABLE retention_runs (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    ran_at          TEXT NOT NULL,
    dry_run         INTEGER NOT NULL,
    -- Who ran it: a user or application id, or `system` for the daily run.
    actor           TEXT NOT NULL,
    -- What each rule found and did, as JSON.
    outcome         TEXT NOT NULL
) STRICT;
CREATE INDEX retention_runs_by_organization ON retention_runs (organization_id, ran_at);
