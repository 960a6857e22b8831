-- 043_dead_letter_keys: the keys of the records the Spark job dead-letters, so that the
-- reconciliation (docs/lifecycle.md) can tell a dead-lettered user from a missing one:
-- Cassandra = staged + dead letters + in flight. The records themselves stay in the
-- dead-letter topic (the original bytes and the reason); this is their index, written by
-- the job (ops role) after the topic has them, idempotently (one row per source record:
-- "topic/partition/offset", as the us.dlq.source header), so a replayed batch adds nothing.
CREATE TABLE IF NOT EXISTS ops.dead_letter_keys (
    source      text PRIMARY KEY,               -- topic/partition/offset of the refused record
    record_key  text,                           -- its Kafka key (a user id), NULL if it had none
    commit_lsn  numeric(20,0),                  -- its us.lsn, NULL if unreadable
    reason      text NOT NULL,
    dead_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dead_letter_keys_record_key ON ops.dead_letter_keys (record_key);

-- The reconciliation counts them per run (missing users with a dead-lettered record).
ALTER TABLE ops.reconcile_runs ADD COLUMN IF NOT EXISTS dead_letters bigint;
