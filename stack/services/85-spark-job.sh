# The pipeline's Spark Structured Streaming job (spark/, docs/spark.md):
# Kafka userstream.users -> Cassandra (users, users_by_email_hash,
# users_by_country, signups_per_minute), dead letters to userstream.users.dlq,
# one ops.stream_progress row per micro-batch. Submitted to the stack's
# standalone master with the connector jars (stack/spark/submit).
#
# State: checkpoints in $US_HOME/spark/checkpoints (a restart resumes where the
# job stopped); the PII HMAC key in $US_SECRETS_DIR/pii_hmac_key (generated on
# first start, mode 0600, never printed).

svc_spark_job_group() { echo pipeline; }
svc_spark_job_address() { echo "http://$US_BIND:$US_SPARK_DRIVER_UI_PORT"; }
svc_spark_job_ports() { echo "$US_SPARK_DRIVER_UI_PORT"; }
svc_spark_job_version() { echo "$SPARK_VERSION"; }
svc_spark_job_pg_role() { echo "$US_PG_OPS_USER"; }
# First start compiles and plans the streaming query on a shared 2-core box.
svc_spark_job_timeout() { echo 300; }

# pyspark and the connector jars are installed by svc_spark_master_setup.
svc_spark_job_setup() { return 0; }

svc_spark_job_init() {
    mkdir -p "$US_HOME/spark/checkpoints"
    us_secret pii_hmac_key >/dev/null
}

# A killed driver (kill -9, OOM) is restarted by supervisord and resumes from
# its checkpoints; a few quick failures in a row make it FATAL instead of a loop.
# Exit 3 (data loss: Kafka no longer holds offsets the job has not read) is
# expected: not restarted, the reason is in ops.stream_stops (docs/spark.md).
svc_spark_job_supervisor() {
    printf '%s\n' startsecs=20 startretries=3 autorestart=unexpected exitcodes=0,3 stopwaitsecs=90
}

svc_spark_job_run() {
    exec "$US_ROOT/stack/spark/submit" \
        --name userstream-spark \
        --driver-memory "${US_SPARK_DRIVER_MEMORY:-1g}" \
        "$US_ROOT/spark/job.py"
}

# Ready = the job's marker names a live driver whose queries have started,
# and the driver's UI answers.
svc_spark_job_ready() {
    local f=$US_HOME/spark/job.ready pid
    [[ -s $f ]] || return 1
    pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$f")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    curl -fsS --max-time 5 -o /dev/null "http://$US_BIND:$US_SPARK_DRIVER_UI_PORT/api/v1/applications"
}
