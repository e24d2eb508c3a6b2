-- Vulnerability management: the advisory files the provider imported (kept whole, so the
-- in-memory database can be rebuilt from them), the software components of each asset read
-- from its SBOM, the findings (asset × advisory × component) with their triage state, and each
-- organisation's remediation deadlines.

CREATE TABLE advisory_sources (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL UNIQUE,
    content      BYTEA NOT NULL,
    imported_at  TIMESTAMPTZ NOT NULL,
    imported_by  TEXT,
    -- The load report of the import.
    loaded       BIGINT NOT NULL,
    withdrawn    BIGINT NOT NULL,
    duplicates   BIGINT NOT NULL,
    n_errors     BIGINT NOT NULL
);

CREATE TABLE asset_components (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    asset_id        UUID NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    -- OSV ecosystem name (`crates.io`, `npm`, `PyPI`, `Debian`, …).
    ecosystem       TEXT NOT NULL,
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    purl            TEXT,
    -- `registry`, `other_registry`, `path` or `git`, and the URL or path of the last three.
    source_kind     TEXT NOT NULL,
    source_location TEXT,
    -- Where in the SBOM it was read (element path or line).
    location        TEXT NOT NULL,
    -- Why it cannot be matched (unknown ecosystem, unparsable version), when it cannot.
    problem         TEXT,
    position        BIGINT NOT NULL
);
CREATE INDEX asset_components_by_asset ON asset_components (asset_id, position);

CREATE TABLE vulnerability_findings (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    asset_id        UUID NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    advisory_id     TEXT NOT NULL,
    -- `ecosystem/name@version` of the affected component.
    component       TEXT NOT NULL,
    purl            TEXT,
    aliases         TEXT NOT NULL,
    summary         TEXT NOT NULL,
    severity        TEXT NOT NULL
        CHECK (severity IN ('unknown', 'none', 'low', 'medium', 'high', 'critical')),
    cvss_score      DOUBLE PRECISION,
    cvss_vector     TEXT,
    fixed_versions  TEXT NOT NULL,
    state           TEXT NOT NULL
        CHECK (state IN ('open', 'in_triage', 'risk_accepted', 'not_affected', 'fixed')),
    justification   TEXT,
    note            TEXT NOT NULL,
    risk_expires_at TIMESTAMPTZ,
    approved_by     TEXT,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    resolved_at     TIMESTAMPTZ,
    due_at          TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (asset_id, advisory_id, component)
);
CREATE INDEX vulnerability_findings_by_organization ON vulnerability_findings (organization_id, id);

CREATE TABLE vulnerability_sla (
    organization_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    critical_days   BIGINT NOT NULL,
    high_days       BIGINT NOT NULL,
    medium_days     BIGINT NOT NULL,
    low_days        BIGINT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
