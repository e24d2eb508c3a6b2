-- Subtree hashes are stored by tile (32 base nodes, 5 levels; the layout is
-- audit::tiles) instead of one row per node: about n/16 rows instead of 2n, and any proof
-- reads at most one row per tile level. `rampart migrate` (and `serve`) move the rows of
-- audit_nodes into tiles, then empty it.
CREATE TABLE audit_tiles (
    organization_id BLOB NOT NULL,
    level           INTEGER NOT NULL,
    idx             INTEGER NOT NULL,
    hashes          BLOB NOT NULL,
    PRIMARY KEY (organization_id, level, idx)
) STRICT;
