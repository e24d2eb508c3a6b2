-- Events sent to an organisation (NDJSON over HTTP, syslog), kept for the retention period,
-- searchable, and evaluated once by the detection rules. Each organisation numbers its events
-- (`seq`, from 0) through `event_heads`; `event_detection_cursors` says how far the rules
-- have evaluated them. Like the alerts they feed, none of these tables has a foreign key to
-- the organisation. Times are Unix microseconds, so that ranges compare as numbers.

CREATE TABLE event_heads (
    organization_id   UUID PRIMARY KEY NOT NULL,
    -- The number of events ever stored (the next `seq`); purging does not lower it.
    size              BIGINT NOT NULL
);

CREATE TABLE ingested_events (
    organization_id   UUID NOT NULL,
    seq               BIGINT NOT NULL,
    -- When the event happened (its own time, else when it was received).
    event_time_us     BIGINT NOT NULL,
    -- When Rampart stored it; retention counts from here.
    received_us       BIGINT NOT NULL,
    -- The Sigma logsource it is routed by.
    product           TEXT,
    service           TEXT,
    -- JSON array of Sigma categories.
    categories        TEXT NOT NULL,
    -- The event as received: a JSON object.
    fields            TEXT NOT NULL,
    PRIMARY KEY (organization_id, seq)
);
CREATE INDEX ingested_events_by_received ON ingested_events (received_us);

CREATE TABLE event_detection_cursors (
    organization_id   UUID PRIMARY KEY NOT NULL,
    -- The `seq` of the next event to evaluate.
    next_seq          BIGINT NOT NULL
);
