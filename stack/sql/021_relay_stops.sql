-- 021_relay_stops: why a relay stopped for good (src/relay/README.md).
--
-- The relay exits with a code supervisord does not restart when a person must
-- act: 3 slot lost, 4 incompatible table change, 6 schema refused, 8 a record
-- larger than Kafka takes (a poison record: restarting would re-send the same
-- transaction forever while WAL piles up). It records the reason here (the
-- slot, the code, the key and size of the record; never a row value) for the
-- console and alerting, and deletes the row once it streams again.
CREATE TABLE IF NOT EXISTS ops.relay_stops (
    slot_name  text PRIMARY KEY,
    exit_code  integer NOT NULL,
    reason     text NOT NULL,
    stopped_at timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'relay') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON ops.relay_stops TO relay;
    END IF;
END
$$;
