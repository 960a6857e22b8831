-- 020_relay: what userstream-relay needs in PostgreSQL (src/relay/README.md).
--
-- ops.relay_slots records, per replication slot, the state of its initial
-- snapshot: the row is written (snapshot_done_at NULL) before the relay
-- creates the slot, and marked done once Kafka has every snapshot row. A slot
-- whose row is still NULL was created by a relay that died during its
-- snapshot: the relay drops and re-creates it (it was never confirmed past
-- its creation, so nothing is lost). A slot without a row is resumed as it
-- is. A slot that is lost is never re-created: the relay stops, exit code 3.
CREATE TABLE IF NOT EXISTS ops.relay_slots (
    slot_name        text PRIMARY KEY,
    consistent_lsn   pg_lsn NOT NULL,     -- the slot's exported snapshot point
    snapshot_done_at timestamptz          -- NULL: snapshot not finished
);

-- The publication of the staging table (creating it needs table ownership,
-- which the relay's role does not have; the relay only checks it).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'userstream_users') THEN
        CREATE PUBLICATION userstream_users FOR TABLE staging.users;
    END IF;
END
$$;

-- The relay's role `relay` (LOGIN REPLICATION, created by ./userstream up;
-- SELECT on staging comes from 002_privileges) keeps its slot records.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'relay') THEN
        GRANT USAGE ON SCHEMA staging, ops TO relay;
        GRANT SELECT ON staging.users TO relay;
        GRANT SELECT, INSERT, UPDATE ON ops.relay_slots TO relay;
    END IF;
END
$$;
