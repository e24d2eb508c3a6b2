-- Vulnerability management: the advisory files the provider imported (kept whole, so the
-- in-memory database can be rebuilt from them), the software components of each asset read
-- from its SBOM, the findings (asset × advisory × component) with their triage state, and each
-- organisation's remediation deadlines.

CREATE TABLE advisory_sources (
    id           BLOB PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL UNIQUE,
    content      BLOB NOT NULL,
    imported_at  TEXT NOT NULL,
    imported_by  TEXT,
    -- The load report of the import.
    loaded       INTEGER NOT NULL,
    withdrawn    INTEGER NOT NULL,
    duplicates   INTEGER NOT NULL,
    n_errors     INTEGER NOT NULL
) STRICT;

CREATE TABLE asset_components (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    asset_id        BLOB NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
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
    position        INTEGER NOT NULL
) STRICT;
CREATE INDEX asset_components_by_asset ON asset_components (asset_id, position);

CREATE TABLE vulnerability_findings (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    asset_id        BLOB NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    advisory_id     TEXT NOT NULL,
    -- `ecosystem/name@version` of the affected component.
    component       TEXT NOT NULL,
    purl            TEXT,
    aliases         TEXT NOT NULL,
    summary         TEXT NOT NULL,
    severity        TEXT NOT NULL
        CHECK (severity IN ('unknown', 'none', 'low', 'medium', 'high', 'critical')),
    cvss_score      REAL,
    cvss_vector     TEXT,
    fixed_versions  TEXT NOT NULL,
    state           TEXT NOT NULL
        CHECK (state IN ('open', 'in_triage', 'risk_accepted', 'not_affected', 'fixed')),
    justification   TEXT,
    note            TEXT NOT NULL,
    risk_expires_at TEXT,
    approved_by     TEXT,
    first_seen_at   TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    resolved_at     TEXT,
    due_at          TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (asset_id, advisory_id, component)
) STRICT;
CREATE INDEX vulnerability_findings_by_organization ON vulnerability_findings (organization_id, id);

CREATE TABLE vulnerability_sla (
    organization_id BLOB PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    critical_days   INTEGER NOT NULL,
    high_days       INTEGER NOT NULL,
    medium_days     INTEGER NOT NULL,
    low_days        INTEGER NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
