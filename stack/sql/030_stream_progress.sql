-- 030_stream_progress: one row per Spark micro-batch (docs/data-contracts.md §6).
-- Written by the Spark job after the batch's Cassandra writes; a replayed
-- batch (same query, same batch id) overwrites its row, so the table never
-- counts a batch twice. Read by the console and the quality DAG.
CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE IF NOT EXISTS ops.stream_progress (
    query_name       text        NOT NULL,   -- 'users' | 'signups'
    batch_id         bigint      NOT NULL,   -- Structured Streaming batch id
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    duration_ms      integer     NOT NULL,
    input_rows       bigint      NOT NULL,   -- Kafka records in the batch
    upserts          bigint      NOT NULL DEFAULT 0,  -- users written (after per-user dedupe)
    deletes          bigint      NOT NULL DEFAULT 0,  -- users deleted
    dead_letters     bigint      NOT NULL DEFAULT 0,  -- records sent to the DLQ topic
    superseded       bigint      NOT NULL DEFAULT 0,  -- older changes of a user in the same batch
    min_commit_ts    timestamptz,
    max_commit_ts    timestamptz,
    max_commit_lsn   numeric(20,0),
    -- PostgreSQL commit -> Cassandra write done, over the batch's records
    latency_p50_ms   double precision,
    latency_p99_ms   double precision,
    latency_max_ms   double precision,
    start_offsets    jsonb,                  -- {"partition": first offset}
    end_offsets      jsonb,                  -- {"partition": last offset}
    PRIMARY KEY (query_name, batch_id)
);

CREATE INDEX IF NOT EXISTS stream_progress_finished_at ON ops.stream_progress (finished_at);

-- Totals per query, for `stage counts` and the console.
CREATE OR REPLACE VIEW ops.stream_totals AS
SELECT query_name,
       count(*)            AS batches,
       sum(input_rows)     AS input_rows,
       sum(upserts)        AS upserts,
       sum(deletes)        AS deletes,
       sum(dead_letters)   AS dead_letters,
       max(finished_at)    AS last_batch_at,
       max(max_commit_lsn) AS max_commit_lsn
FROM ops.stream_progress
GROUP BY query_name;

-- Privileges: the ops role (the Spark job's) gets them by default
-- (ALTER DEFAULT PRIVILEGES in 002_privileges.sql).
