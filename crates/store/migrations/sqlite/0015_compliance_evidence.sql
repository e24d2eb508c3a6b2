-- Who acknowledged which version of a policy (a new version needs new acknowledgements), the
-- organisation's risk matrix, and the manual evidence kept for what no check can evaluate:
-- files (their content and SHA-256) and links, each dated and tied to a measure.

CREATE TABLE policy_acknowledgements (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    policy_id       BLOB NOT NULL REFERENCES compliance_records (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version         TEXT NOT NULL,
    acknowledged_at TEXT NOT NULL,
    PRIMARY KEY (policy_id, user_id, version)
) STRICT;
CREATE INDEX policy_acknowledgements_by_organization
    ON policy_acknowledgements (organization_id, policy_id);

CREATE TABLE risk_matrices (
    organization_id BLOB PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The matrix (labels and thresholds) as JSON, validated by the application.
    matrix          TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE TABLE manual_evidence (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
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
    size            INTEGER,
    content         BLOB,
    observed_on     TEXT NOT NULL,
    expires_on      TEXT,
    added_by        TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX manual_evidence_by_organization ON manual_evidence (organization_id, id);
