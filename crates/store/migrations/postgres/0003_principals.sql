-- Non-human principals (applications) and groups; API keys held by a user or an application.

CREATE TABLE applications (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,
    description     TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, name_folded)
);

CREATE TABLE groups (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, name_folded)
);

-- A member is a user or an application of the group's organisation.
CREATE TABLE group_members (
    group_id    UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_kind TEXT NOT NULL CHECK (member_kind IN ('user', 'application')),
    member_id   UUID NOT NULL,
    added_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_by_member ON group_members (member_id);

ALTER TABLE api_keys ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE api_keys ADD COLUMN application_id UUID REFERENCES applications (id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_one_holder
    CHECK ((user_id IS NULL) <> (application_id IS NULL));
CREATE INDEX api_keys_by_application ON api_keys (application_id);
