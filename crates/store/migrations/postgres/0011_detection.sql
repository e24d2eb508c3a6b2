-- Detection over Rampart's own audit log: how far each organisation's trail has been
-- evaluated, and the alerts the rules raised. Neither table has a foreign key to the
-- organisation: like the audit trail they describe, they outlive it.

CREATE TABLE detection_cursors (
    organization_id   UUID PRIMARY KEY NOT NULL,
    -- The index of the next audit entry to evaluate.
    next_index        BIGINT NOT NULL
);

CREATE TABLE alerts (
    id                UUID PRIMARY KEY NOT NULL,
    organization_id   UUID NOT NULL,
    rule_id           TEXT NOT NULL,
    title             TEXT NOT NULL,
    level             TEXT NOT NULL,
    -- JSON array of the rule's tags (ATT&CK tactics and techniques).
    tags              TEXT NOT NULL,
    author            TEXT NOT NULL,
    -- The correlation group (`user.uid=…`) or empty for single-event rules.
    group_key         TEXT NOT NULL,
    -- JSON array of audit entry references (`organization:index`), the first ones counted.
    event_refs        TEXT NOT NULL,
    -- JSON object: the non-personal fields of the latest event (action, outcome, ids).
    summary           TEXT NOT NULL,
    first_seen        TIMESTAMPTZ NOT NULL,
    last_seen         TIMESTAMPTZ NOT NULL,
    count             BIGINT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('new', 'acknowledged', 'closed')),
    resolution        TEXT CHECK (resolution IN ('true_positive', 'false_positive', 'benign')),
    assignee          TEXT,
    acknowledged_by   TEXT,
    acknowledged_at   TIMESTAMPTZ,
    closed_by         TEXT,
    closed_at         TIMESTAMPTZ,
    comment           TEXT NOT NULL
);
CREATE INDEX alerts_by_organization ON alerts (organization_id, first_seen);
CREATE INDEX alerts_by_rule_group ON alerts (organization_id, rule_id, group_key, state);
