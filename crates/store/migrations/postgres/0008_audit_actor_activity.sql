-- When each actor last acted successfully, per organisation's trail: one small row per actor,
-- kept by the appends themselves, instead of an index over every entry (which made each
-- append insert at a random place in a B-tree as large as the log).
DROP INDEX audit_entries_by_actor;

CREATE TABLE audit_actor_activity (
    organization_id UUID NOT NULL,
    actor_id        TEXT NOT NULL,
    last_idx        BIGINT NOT NULL,
    last_time       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, actor_id)
);

INSERT INTO audit_actor_activity (organization_id, actor_id, last_idx, last_time)
    SELECT DISTINCT ON (organization_id, actor_id) organization_id, actor_id, idx, time
    FROM audit_entries
    WHERE outcome = 'success' AND actor_id IS NOT NULL
    ORDER BY organization_id, actor_id, idx DESC;
