-- A batch's events are stored compressed: `events_lz4` holds their text in LZ4's block
-- format, its length first, and `events` is left empty. Writing the text was most of what
-- storing a batch cost, and a batch of logs shrinks several times. Batches stored before
-- keep their text in `events` and read back as they were.
ALTER TABLE event_batches ADD COLUMN events_lz4 BLOB;
