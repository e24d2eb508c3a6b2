-- Notifications of alerts: each organisation's channels (a webhook or a list of email
-- addresses, the lowest alert level they want, whether they are on) and the queue of
-- notifications not yet delivered or given up. A webhook's signing secret is stored only
-- sealed under the master key. A queued notification keeps the id its deliveries carry, so a
-- receiver can recognise a repeat after a retry or a restart.

CREATE TABLE notification_channels (
    id                UUID PRIMARY KEY NOT NULL,
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
    -- The https URL of a webhook; empty for email.
    url               TEXT NOT NULL,
    -- JSON array of addresses for email; empty array for a webhook.
    recipients        TEXT NOT NULL,
    min_level         TEXT NOT NULL CHECK (min_level IN ('low', 'medium', 'high', 'critical')),
    enabled           BOOLEAN NOT NULL,
    -- The webhook signing secret sealed under the master key; empty for email.
    sealed_secret     BYTEA NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX notification_channels_by_organization
    ON notification_channels (organization_id, created_at);

CREATE TABLE notification_queue (
    -- The delivery id, sent with every attempt and kept in the delivery log.
    id                UUID PRIMARY KEY NOT NULL,
    organization_id   UUID NOT NULL,
    alert_id          UUID NOT NULL,
    channel_id        UUID NOT NULL,
    channel           TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
    -- The webhook's host or the mail recipient.
    target            TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    next_attempt_at   TIMESTAMPTZ NOT NULL,
    last_error        TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX notification_queue_by_due ON notification_queue (next_attempt_at);
