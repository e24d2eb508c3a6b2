-- A login throttle's version, incremented by every write: a login writes its count from the
-- state it read before hashing the password, on the condition that the version is still the
-- one it read, in one statement; only when a concurrent attempt changed the state in between
-- does it read the row again (locked) and retry.
ALTER TABLE login_throttles ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
