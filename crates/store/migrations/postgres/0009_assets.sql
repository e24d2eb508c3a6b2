-- The asset inventory: every asset of an organisation with its owner, classification,
-- criticality and lifecycle; the record of how a disposed asset was erased or destroyed; and
-- the newest posture report of each device with the organisation's posture policy.

CREATE TABLE assets (
    id                UUID PRIMARY KEY,
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The organisation's own identifier (CMDB id, serial, hostname): imports match on it.
    external_id       TEXT,
    kind              TEXT NOT NULL,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL,
    owner_id          UUID NOT NULL,
    custodian_id      UUID,
    classification    TEXT NOT NULL,
    criticality       TEXT NOT NULL CHECK (criticality IN ('low', 'medium', 'high', 'critical')),
    location          TEXT NOT NULL,
    lifecycle         TEXT NOT NULL
        CHECK (lifecycle IN ('planned', 'in_service', 'maintenance', 'retired', 'disposed')),
    end_of_support    DATE,
    -- JSON arrays: tags (strings) and relations ({"type", "asset_id" | "data_category"}).
    tags              TEXT NOT NULL,
    relations         TEXT NOT NULL,
    -- The smallest end-of-support warning threshold (days) already raised.
    end_of_support_warned_days BIGINT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX assets_by_organization ON assets (organization_id, id);
CREATE UNIQUE INDEX assets_by_external_id ON assets (organization_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE asset_disposals (
    asset_id        UUID PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    -- NIST SP 800-88 sanitisation method.
    method          TEXT NOT NULL CHECK (method IN ('clear', 'purge', 'destroy')),
    performed_on    DATE NOT NULL,
    performer       TEXT NOT NULL,
    witness         TEXT NOT NULL,
    certificate_ref TEXT NOT NULL,
    notes           TEXT NOT NULL,
    recorded_by     TEXT,
    recorded_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE device_posture (
    asset_id        UUID PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    reported_at     TIMESTAMPTZ NOT NULL,
    -- The facts read from the report (JSON object), not the report itself.
    facts           TEXT NOT NULL,
    n_reports       BIGINT NOT NULL
);

CREATE TABLE posture_policies (
    organization_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    policy          TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
