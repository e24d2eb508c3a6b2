-- The asset inventory: every asset of an organisation with its owner, classification,
-- criticality and lifecycle; the record of how a disposed asset was erased or destroyed; and
-- the newest posture report of each device with the organisation's posture policy.

CREATE TABLE assets (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The organisation's own identifier (CMDB id, serial, hostname): imports match on it.
    external_id       TEXT,
    kind              TEXT NOT NULL,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL,
    owner_id          BLOB NOT NULL,
    custodian_id      BLOB,
    classification    TEXT NOT NULL,
    criticality       TEXT NOT NULL CHECK (criticality IN ('low', 'medium', 'high', 'critical')),
    location          TEXT NOT NULL,
    lifecycle         TEXT NOT NULL
        CHECK (lifecycle IN ('planned', 'in_service', 'maintenance', 'retired', 'disposed')),
    end_of_support    TEXT,
    -- JSON arrays: tags (strings) and relations ({"type", "asset_id" | "data_category"}).
    tags              TEXT NOT NULL,
    relations         TEXT NOT NULL,
    -- The smallest end-of-support warning threshold (days) already raised.
    end_of_support_warned_days INTEGER,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;
CREATE INDEX assets_by_organization ON assets (organization_id, id);
CREATE UNIQUE INDEX assets_by_external_id ON assets (organization_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE asset_disposals (
    asset_id        BLOB PRIMARY KEY NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    organization_id BLOB NOT NULL,
    -- NIST SP 800-88 sanitisation method.
    method          TEXT NOT NULL CHECK (method IN ('clear', 'purge', 'destroy')),
    performed_on    TEXT NOT NULL,
    performer       TEXT NOT NULL,
    witness         TEXT NOT NULL,
    certificate_ref TEXT NOT NULL,
    notes           TEXT NOT NULL,
    recorded_by     TEXT,
    recorded_at     TEXT NOT NULL
) STRICT;

CREATE TABLE device_posture (
    asset_id        BLOB PRIMARY KEY NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    organization_id BLOB NOT NULL,
    reported_at     TEXT NOT NULL,
    -- The facts read from the report (JSON object), not the report itself.
    facts           TEXT NOT NULL,
    n_reports       INTEGER NOT NULL
) STRICT;

CREATE TABLE posture_policies (
    organization_id BLOB PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    policy          TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
