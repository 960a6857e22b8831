-- 031_stream_stops: why the Spark job stopped for good (docs/spark.md, "Data loss").
--
-- The job exits with code 3, which supervisord does not restart, when Kafka no
-- longer holds offsets it has not read (failOnDataLoss: deleted records,
-- retention shorter than an outage, a re-created topic): restarting would fail
-- the same way, and skipping would lose the records silently. It records the
-- query, the code and Spark's reason here for the console's alert (rule
-- "stopped", with ops.relay_stops), and deletes its row once a batch of that
-- query succeeds again. The ops role (the job) owns the rows through the
-- default privileges of 002_privileges.sql.
CREATE TABLE IF NOT EXISTS ops.stream_stops (
    query_name text PRIMARY KEY,
    exit_code  integer NOT NULL,
    reason     text NOT NULL,
    stopped_at timestamptz NOT NULL DEFAULT now()
);
