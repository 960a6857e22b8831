# userstream-relay: PostgreSQL -> Kafka change data capture (src/relay/).
# Logical replication of staging.users (publication from stack/sql/020_relay.sql,
# slot created on first start, initial snapshot, then streaming) into
# $US_KAFKA_TOPIC_USERS as Avro registered at $US_REGISTRY_URL. Prometheus
# metrics and health on $US_RELAY_METRICS_PORT.

svc_relay_group() { echo pipeline; }
svc_relay_address() { echo "$US_BIND:$US_RELAY_METRICS_PORT"; }
svc_relay_ports() { echo "$US_RELAY_METRICS_PORT"; }
svc_relay_timeout() { echo 60; }
svc_relay_pg_role() { echo "$US_PG_RELAY_USER"; }
svc_relay_bin() { echo "$US_ROOT/build/src/relay/userstream-relay"; }

svc_relay_version() {
    local bin
    bin=$(svc_relay_bin)
    [[ -x $bin ]] && "$bin" --version | awk '{print $2}' || echo "not built"
}

# Built by `./userstream build` from the Debian -dev packages setup installs.
svc_relay_setup() { return 0; }

# Exit 1 (a lost connection, a malformed stream) is restarted: the relay resumes
# from its slot. The other non-zero codes need a person (src/relay/README.md:
# 2 configuration, 3 slot lost, 4 forbidden table change, 6 schema refused,
# 7 another relay holds the slot, 8 a record larger than Kafka takes), so
# supervisord must not loop on them. SIGTERM flushes Kafka and sends the final
# feedback before exit 0: give it time.
svc_relay_supervisor() {
    printf '%s\n' autorestart=unexpected exitcodes=0,2,3,4,6,7,8 startsecs=5 startretries=10 \
        stopwaitsecs=60
}

svc_relay_run() {
    local bin
    bin=$(svc_relay_bin)
    [[ -x $bin ]] || us_die "$bin is missing: run ./userstream build"
    exec "$bin"
}

svc_relay_ready() {
    curl -fsS --max-time 5 -o /dev/null "http://$US_BIND:$US_RELAY_METRICS_PORT/health"
}
