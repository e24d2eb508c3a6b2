-- When each actor last acted successfully, per organisation's trail: one small row per actor,
-- kept by the appends themselves, instead of an index over every entry (which made each
-- append insert at a random place in a B-tree as large as the log).
DROP INDEX audit_entries_by_actor;

CREATE TABLE audit_actor_activity (
    organization_id BLOB NOT NULL,
    actor_id        TEXT NOT NULL,
    last_idx        INTEGER NOT NULL,
    last_time       TEXT NOT NULL,
    PRIMARY KEY (organization_id, actor_id)
) STRICT;

-- SQLite takes the bare column `time` from the row that holds MAX(idx).
INSERT INTO audit_actor_activity (organization_id, actor_id, last_idx, last_time)
    SELECT organization_id, actor_id, MAX(idx), time FROM audit_entries
    WHERE outcome = 'success' AND actor_id IS NOT NULL
    GROUP BY organization_id, actor_id;
