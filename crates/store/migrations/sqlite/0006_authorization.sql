-- Authorisation (docs/design/0004-authorization.md): an organisation's own actions and
-- permission sets, policies attached to one principal, and raw Cedar policies. Rules and
-- action lists are JSON in the shape of the `authz` crate's model.

CREATE TABLE authz_custom_actions (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    privileged      INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, name)
) STRICT;

CREATE TABLE authz_permission_sets (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    actions         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, name)
) STRICT;

-- The principal is a user, group or application of the organisation; deleting it deletes
-- its policies (done by the application layer, in the same transaction).
CREATE TABLE authz_policies (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    principal_kind  TEXT NOT NULL CHECK (principal_kind IN ('user', 'group', 'application')),
    principal_id    BLOB NOT NULL,
    description     TEXT NOT NULL,
    rules           TEXT NOT NULL,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX authz_policies_by_organization ON authz_policies (organization_id);
CREATE INDEX authz_policies_by_principal ON authz_policies (principal_id);

CREATE TABLE authz_raw_policies (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    description     TEXT NOT NULL,
    text            TEXT NOT NULL,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX authz_raw_policies_by_organization ON authz_raw_policies (organization_id);
