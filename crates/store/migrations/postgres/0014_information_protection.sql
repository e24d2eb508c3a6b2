-- Information protection: each organisation's classification scheme (levels, TLP labels and
-- the level of each export, as a JSON document the application validates), its catalogue of
-- personal data categories, its retention rules and legal holds, and the record of every
-- retention run.

CREATE TABLE classification_schemes (
    organization_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    document        TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE data_categories (
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- Dotted path, `user.contact.email`; its parent path is in the catalogue too.
    path             TEXT NOT NULL,
    description      TEXT NOT NULL,
    -- A level name of the organisation's scheme, lowercase.
    classification   TEXT NOT NULL,
    special_category BOOLEAN NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, path)
);

CREATE TABLE retention_rules (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    data_category   TEXT NOT NULL,
    target          TEXT NOT NULL,
    trigger_kind    TEXT NOT NULL,
    duration_days   BIGINT NOT NULL CHECK (duration_days >= 0),
    end_action      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX retention_rules_by_organization ON retention_rules (organization_id, id);

CREATE TABLE legal_holds (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    target          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    placed_at       TIMESTAMPTZ NOT NULL,
    released_at     TIMESTAMPTZ
);
CREATE INDEX legal_holds_by_organization ON legal_holds (organization_id, target);

CREATE TABLE retention_runs (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    ran_at          TIMESTAMPTZ NOT NULL,
    dry_run         BOOLEAN NOT NULL,
    -- Who ran it: a user or application id, or `system` for the daily run.
    actor           TEXT NOT NULL,
    -- What each rule found and did, as JSON.
    outcome         TEXT NOT NULL
);
CREATE INDEX retention_runs_by_organization ON retention_runs (organization_id, ran_at);
