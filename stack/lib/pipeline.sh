# stack/lib/pipeline.sh: what `run` does once the pipeline programs are up
# (schedule the DAGs, wait for data in Cassandra, say where to look), and the
# commands around the pipeline group: `stop` and `counts`.

# The DAGs `run` unpauses: Airflow creates every DAG paused, so without this
# nothing would be scheduled. The canary stays paused (it is triggered by hand).
US_PIPELINE_DAGS=(userstream_ingest userstream_quality)

# us_console_api PATH: GET PATH of the console's JSON API (userstream-console,
# stack/services/90-console.sh), logged in with its generated password (sent
# on stdin, never in argv). The one accounting of the stages lives there.
us_console_api() {
    local jar rc=0 url="http://$US_BIND:$US_CONSOLE_PORT"
    local pw=$US_CONSOLE_PASSWORD_FILE
    if [[ ! -r $pw ]]; then
        echo "no console password in $pw (the console service makes it when it starts)" >&2
        return 1
    fi
    jar=$(mktemp)
    if ! printf 'password=%s' "$(cat "$pw")" |
        curl -fsS --max-time 10 -o /dev/null -c "$jar" --data-binary @- "$url/login" 2>/dev/null; then
        echo "the console does not answer at $url (./userstream run starts it)" >&2
        rc=1
    elif ! curl -fsS --max-time 330 -b "$jar" "$url$1"; then
        rc=1
    fi
    rm -f "$jar"
    return $rc
}

# us_counts_json [fresh]: the stage counts as one JSON line; "fresh" waits for
# numbers measured after the call (a Cassandra scan: seconds), else the
# console's latest round.
us_counts_json() {
    if [[ ${1:-} == fresh ]]; then us_console_api "/api/counts?fresh=1"; else us_console_api /api/counts; fi
}

# us_json_get KEY: the value of KEY in the JSON object on stdin ("" if null).
us_json_get() {
    "$US_VENV/bin/python" -c '
import json, sys
v = json.loads(sys.stdin.read() or "{}").get(sys.argv[1])
print("" if v is None else v)' "$1"
}

# us_dags_unpause: unpauses US_PIPELINE_DAGS, waiting (bounded) until the
# dag-processor has parsed them: unpausing an unknown DAG is an error.
us_dags_unpause() {
    local dag start=$SECONDS log=$US_LOG_DIR/airflow-unpause.log
    : >"$log"
    for dag in "${US_PIPELINE_DAGS[@]}"; do
        until "$US_ROOT/stack/airflow/airflow" dags unpause "$dag" >>"$log" 2>&1; do
            ((SECONDS - start < 180)) || us_fail_with_log "Airflow does not know DAG $dag after 180s (dag-processor)" "$log"
            sleep 5
        done
    done
    us_ok "Airflow DAGs scheduled: ${US_PIPELINE_DAGS[*]} (ingestion every minute by default, US_INGEST_SCHEDULE)"
}

# us_wait_flowing TIMEOUT: until users reach Cassandra (the first scheduled
# ingestion run went through loader, PostgreSQL, relay, Kafka and Spark).
# On timeout: the counts show at which stage the data stopped; exit 1.
us_wait_flowing() {
    local timeout=$1 start=$SECONDS counts n=""
    printf '    waiting for the first ingestion run to reach Cassandra (up to %ss) ...\n' "$timeout"
    while ((SECONDS - start < timeout)); do
        counts=$(us_counts_json) || true
        n=$(us_json_get cassandra <<<"$counts")
        if [[ -n $n && $n != 0 ]]; then
            us_ok "data flows: $n users in Cassandra after $(us_elapsed "$start")"
            return 0
        fi
        sleep 10
    done
    us_counts_table >&2 || true
    us_die "no user reached Cassandra within ${timeout}s; the counts above show where the data stopped (./userstream logs SERVICE)"
}

# us_counts_table: the fresh counts as the table of the README; exit 1 when a
# stage could not be asked (its count is "?").
us_counts_table() {
    local json
    json=$(us_counts_json fresh) || return 1
    "$US_VENV/bin/python" -c '
import json, sys
c = json.loads(sys.argv[1])
rows = [("fetched", "fetched from the API (ops.load_batches)"),
        ("staged", "staged   PostgreSQL staging.users"),
        ("rejected", "rejected PostgreSQL staging.rejects"),
        ("kafka", "Kafka    " + sys.argv[2] + " records"),
        ("spark_processed", "Spark    records processed"),
        ("in_flight", "in flight (Kafka, not yet processed)"),
        ("cassandra", "Cassandra " + sys.argv[3] + ".users"),
        ("dlq_distinct", "dead letters (" + sys.argv[4] + ")")]
print("{:<42}{:>10}".format("stage", "count"))
for key, label in rows:
    v = c.get(key)
    print("{:<42}{:>10}".format(label, "?" if v is None else v))
if c.get("latency_p50_ms") is not None:
    print("PostgreSQL commit -> Cassandra, last 5 min: p50 {:.0f} ms, worst batch p99 {:.0f} ms".format(
          c["latency_p50_ms"], c["latency_p99_ms"]))
for e in c.get("errors") or []:
    print(f"could not ask {e}", file=sys.stderr)
sys.exit(1 if c.get("errors") else 0)' "$json" "$US_KAFKA_TOPIC_USERS" "$US_CASSANDRA_KEYSPACE" "$US_KAFKA_TOPIC_DLQ"
}

# us_where_to_look: the addresses and commands a data engineer needs next.
us_where_to_look() {
    us_step "The pipeline is running. Where to look:"
    cat <<EOF
    console          http://$US_BIND:$US_CONSOLE_PORT  (password in $US_CONSOLE_PASSWORD_FILE)
    Airflow UI       $US_AIRFLOW_URL  (user admin, password in $US_SECRETS_DIR/airflow-passwords.json)
    Spark            master UI http://$US_BIND:$US_SPARK_MASTER_UI_PORT, the job's UI http://$US_BIND:$US_SPARK_DRIVER_UI_PORT
    relay metrics    http://$US_BIND:$US_RELAY_METRICS_PORT/metrics
    source metrics   http://$US_BIND:$US_SOURCE_METRICS_PORT/metrics
    Prometheus       http://$US_BIND:$US_PROMETHEUS_PORT  (every process above, and Kafka, Cassandra, Spark)
    source API       ${US_SOURCE_URL}?results=2&seed=demo
    Cassandra        ./userstream cqlsh -e "SELECT user_id, full_name, country_code, commit_ts FROM $US_CASSANDRA_KEYSPACE.users LIMIT 5"
    Kafka            ./userstream kcat -C -t $US_KAFKA_TOPIC_USERS -o -5 -e -f '%k %h\\n'
    PostgreSQL       ./userstream psql ops -c "SELECT count(*) FROM staging.users"
    counts           ./userstream counts  (every stage, as below)
    stop             ./userstream down
EOF
    echo
    us_counts_table || us_warn "a stage did not answer (see above)"
}

# cmd_counts [--json]: how many users are at each stage now.
cmd_counts() {
    case ${1:-} in
        --json) us_counts_json fresh && echo ;;
        "") us_counts_table ;;
        *) us_die "counts: unknown option '$1' (--json)" ;;
    esac
}

# cmd_stop NAME...|pipeline: stops services (pipeline = every pipeline
# program, in reverse start order) and leaves the rest running.
cmd_stop() {
    [[ $# -gt 0 ]] || us_die "usage: ./userstream stop SERVICE... | pipeline"
    us_supervisord_pid >/dev/null || us_die "the stack is not running"
    local -a names=()
    local a
    for a in "$@"; do
        if [[ $a == pipeline ]]; then
            mapfile -t -O "${#names[@]}" names < <(us_services pipeline | tac)
        else
            us_service_known "$a"
            names+=("$a")
        fi
    done
    for a in "${names[@]}"; do
        us_supervisorctl stop "$a" >/dev/null || true
        us_ok "$a: $(us_program_state "$a")"
    done
}
