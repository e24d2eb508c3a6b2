-- Who acknowledged which version of a policy (a new version needs new acknowledgements), the
-- organisation's risk matrix, and the manual evidence kept for what no check can evaluate:
-- files (their content and SHA-256) and links, each dated and tied to a measure.

CREATE TABLE policy_acknowledgements (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    policy_id       UUID NOT NULL REFERENCES compliance_records (id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version         TEXT NOT NULL,
    acknowledged_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (policy_id, user_id, version)
);
CREATE INDEX policy_acknowledgements_by_organization
    ON policy_acknowledgements (organization_id, policy_id);

CREATE TABLE risk_matrices (
    organization_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    -- The matrix (labels and thresholds) as JSON, validated by the application.
    matrix          TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE manual_evidence (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title           TEXT NOT NULL,
    measure_id      TEXT NOT NULL,
    control_id      TEXT,
    check_id        TEXT,
    -- 'file' or 'link'.
    kind            TEXT NOT NULL,
    url             TEXT,
    file_name       TEXT,
    media_type      TEXT,
    sha256          TEXT,
    size            BIGINT,
    content         BYTEA,
    observed_on     DATE NOT NULL,
    expires_on      DATE,
    added_by        TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX manual_evidence_by_organization ON manual_evidence (organization_id, id);
