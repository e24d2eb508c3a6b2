-- An optional maximum password age per organisation, and when each account last chose its
-- password (an automatic rehash is not a change). Accounts that had a password before this
-- migration count from their creation.
CREATE TABLE password_policies (
    organization_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    max_age_days    INTEGER NOT NULL CHECK (max_age_days BETWEEN 1 AND 3650),
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE password_changes (
    user_id    UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    changed_at TIMESTAMPTZ NOT NULL
);
INSERT INTO password_changes (user_id, changed_at)
    SELECT id, created_at FROM users WHERE password_hash IS NOT NULL;
