-- Ingested events are stored one row per batch instead of one row per event: a batch
-- arrives, is kept and expires whole (retention counts from its reception), and a row per
-- event made storing cost more than evaluating. A batch keeps its events' texts one after
-- the other, each followed by a newline, and per event its time, its logsource and its
-- length. Events stored before become batches of one.
CREATE TABLE event_batches (
    organization_id   UUID NOT NULL,
    -- The numbers of its events: first_seq .. end_seq - 1.
    first_seq         BIGINT NOT NULL,
    end_seq           BIGINT NOT NULL,
    -- When Rampart stored it; retention counts from here.
    received_us       BIGINT NOT NULL,
    -- The earliest and latest time its events happened, for searches by time.
    min_time_us       BIGINT NOT NULL,
    max_time_us       BIGINT NOT NULL,
    -- JSON array of the distinct Sigma logsources of its events:
    -- {"product": …, "service": …, "categories": […]}.
    sources           TEXT NOT NULL,
    -- JSON array, per event: [time (Unix µs), index in `sources`, length of its text in bytes].
    entries           TEXT NOT NULL,
    -- The events as received, JSON objects' texts, each followed by a newline.
    events            TEXT NOT NULL,
    PRIMARY KEY (organization_id, first_seq),
    CHECK (end_seq > first_seq)
);
CREATE INDEX event_batches_by_received ON event_batches (received_us);

INSERT INTO event_batches (organization_id, first_seq, end_seq, received_us, min_time_us,
                           max_time_us, sources, entries, events)
SELECT organization_id, seq, seq + 1, received_us, event_time_us, event_time_us,
       json_build_array(json_build_object('product', product, 'service', service,
                                          'categories', categories::json))::text,
       '[[' || event_time_us || ',0,' || octet_length(fields) || ']]',
       fields || chr(10)
FROM ingested_events;

DROP TABLE ingested_events;
