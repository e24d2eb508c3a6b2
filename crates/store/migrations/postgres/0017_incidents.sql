-- Incident response: the cases the security team runs (severity, status and the GDPR
-- Article 33 awareness time as columns, the rest of the case as a JSON document the
-- application validates), their append-only timelines, the reports received from the public
-- with their triage state, and the delivery log of alert notifications. No foreign key ties
-- them to an organisation: like the audit trail, a case outlives what it was about.

CREATE TABLE incidents (
    id                UUID PRIMARY KEY NOT NULL,
    organization_id   UUID NOT NULL,
    title             TEXT NOT NULL,
    severity          TEXT NOT NULL CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
    status            TEXT NOT NULL CHECK (status IN ('detected', 'analysing', 'contained',
                          'eradicated', 'recovered', 'closed')),
    -- When the provider became aware of a personal data breach (starts the 72-hour clock).
    breach_aware_at   TIMESTAMPTZ,
    -- When the supervisory authority was notified (stops it).
    authority_notified_at TIMESTAMPTZ,
    document          TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX incidents_by_organization ON incidents (organization_id, created_at);
CREATE INDEX incidents_by_breach ON incidents (breach_aware_at, status);

CREATE TABLE incident_timeline (
    id                UUID PRIMARY KEY NOT NULL,
    incident_id       UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    -- 1, 2, 3, … in the order the entries were appended.
    seq               BIGINT NOT NULL,
    at                TIMESTAMPTZ NOT NULL,
    actor             TEXT NOT NULL,
    kind              TEXT NOT NULL,
    -- JSON object: what changed.
    detail            TEXT NOT NULL
);
CREATE UNIQUE INDEX incident_timeline_by_incident ON incident_timeline (incident_id, seq);

CREATE TABLE public_reports (
    id                UUID PRIMARY KEY NOT NULL,
    organization_id   UUID NOT NULL,
    -- SHA-256 of the reference given to the reporter; the reference itself is never stored.
    reference_hash    BYTEA NOT NULL UNIQUE,
    received_at       TIMESTAMPTZ NOT NULL,
    subject           TEXT NOT NULL,
    body              TEXT NOT NULL,
    contact           TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('new', 'dismissed', 'opened')),
    incident_id       UUID,
    triaged_by        TEXT,
    triaged_at        TIMESTAMPTZ,
    note              TEXT NOT NULL
);
CREATE INDEX public_reports_by_state ON public_reports (organization_id, state, received_at);

CREATE TABLE notification_deliveries (
    id                UUID PRIMARY KEY NOT NULL,
    organization_id   UUID NOT NULL,
    alert_id          UUID NOT NULL,
    channel           TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
    target            TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    delivered         BOOLEAN NOT NULL,
    last_error        TEXT NOT NULL,
    at                TIMESTAMPTZ NOT NULL
);
CREATE INDEX notification_deliveries_by_time ON notification_deliveries (organization_id, at);
