-- The compliance registers (policies, roles, risks, people, audits, sub-processors, DPIAs,
-- changes, continuity, …) as typed records: the register a record belongs to, its title,
-- owner and review date as columns, and the rest of it as a JSON document the application
-- validates against the register's schema. And the dated results of the evidence checks.

CREATE TABLE compliance_records (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    register        TEXT NOT NULL,
    title           TEXT NOT NULL,
    owner_id        BLOB,
    review_due      TEXT,
    document        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX compliance_records_by_register ON compliance_records (organization_id, register, id);

CREATE TABLE evidence_results (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    check_id        TEXT NOT NULL,
    ran_at          TEXT NOT NULL,
    -- The report crate's CheckResult, as JSON.
    result          TEXT NOT NULL
) STRICT;
CREATE INDEX evidence_results_by_check ON evidence_results (organization_id, check_id, ran_at);
