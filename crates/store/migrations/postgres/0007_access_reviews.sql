-- Access reviews: campaigns over a scope of an organisation's policy rules, one item per
-- principal and rule (a snapshot taken when the item is created), the decision on each item,
-- and the cadences that start campaigns on their own.

CREATE TABLE access_review_campaigns (
    id                UUID PRIMARY KEY,
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    scope             TEXT NOT NULL
        CHECK (scope IN ('organization', 'privileged', 'staff', 'group')),
    -- Set exactly when the scope is a group; the group may be deleted later.
    scope_group_id    UUID,
    origin            TEXT NOT NULL CHECK (origin IN ('manual', 'schedule', 'movers')),
    reviewer_id       UUID,
    unused_after_days BIGINT NOT NULL,
    started_by        TEXT,
    started_at        TIMESTAMPTZ NOT NULL,
    due_at            TIMESTAMPTZ NOT NULL,
    closed_at         TIMESTAMPTZ,
    closed_by         TEXT,
    CHECK ((scope = 'group') = (scope_group_id IS NOT NULL))
);
CREATE INDEX access_review_campaigns_by_organization
    ON access_review_campaigns (organization_id, id);

-- `rule` is the rule's JSON as it was when the item was created; a decision applies only
-- while the policy still holds that rule.
CREATE TABLE access_review_items (
    id                UUID PRIMARY KEY,
    campaign_id       UUID NOT NULL REFERENCES access_review_campaigns (id) ON DELETE CASCADE,
    organization_id   UUID NOT NULL,
    principal_kind    TEXT NOT NULL CHECK (principal_kind IN ('user', 'group', 'application')),
    principal_id      UUID NOT NULL,
    policy_id         UUID NOT NULL,
    rule_index        BIGINT NOT NULL,
    rule              TEXT NOT NULL,
    privileged        BOOLEAN NOT NULL,
    granted_at        TIMESTAMPTZ NOT NULL,
    granted_by        TEXT,
    policy_updated_at TIMESTAMPTZ NOT NULL,
    last_activity_at  TIMESTAMPTZ,
    unused            BOOLEAN NOT NULL,
    reason            TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    decision          TEXT CHECK (decision IN ('keep', 'revoke', 'reduce')),
    permission_sets   TEXT,
    justification     TEXT,
    decided_by        TEXT,
    decided_at        TIMESTAMPTZ
);
CREATE INDEX access_review_items_by_campaign ON access_review_items (campaign_id, id);

CREATE TABLE access_review_schedules (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope           TEXT NOT NULL CHECK (scope IN ('organization', 'privileged', 'staff')),
    cadence_days    BIGINT NOT NULL,
    due_in_days     BIGINT NOT NULL,
    last_started_at TIMESTAMPTZ,
    -- Bumped by each start: a replica starts a campaign only if no other did first.
    n_runs          BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, scope)
);

-- When each principal last acted: the newest successful entry of an actor.
CREATE INDEX audit_entries_by_actor ON audit_entries (actor_id, outcome, organization_id, idx);
