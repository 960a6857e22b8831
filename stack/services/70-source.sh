# userstream-source: the randomuser.me 1.4-compatible API server (src/source/),
# the pipeline's offline data source. The ingestion DAG's loader reads it at
# $US_SOURCE_URL; point US_SOURCE_URL at https://randomuser.me/api/1.4/ to use
# the real API instead (this service then just idles). Its counters (users
# served, faults, requests) are on $US_SOURCE_METRICS_PORT/metrics (0: none).

svc_source_group() { echo pipeline; }
svc_source_address() { echo "$US_BIND:$US_SOURCE_PORT"; }
svc_source_ports() { echo "$US_SOURCE_PORT"; [[ $US_SOURCE_METRICS_PORT == 0 ]] || echo "$US_SOURCE_METRICS_PORT"; }
svc_source_timeout() { echo 30; }
svc_source_bin() { echo "$US_ROOT/build/src/source/userstream-source"; }

svc_source_version() {
    local bin
    bin=$(svc_source_bin)
    [[ -x $bin ]] && "$bin" --version | awk '{print $2}' || echo "not built"
}

# Built by `./userstream build` from the Debian -dev packages setup installs.
svc_source_setup() { return 0; }

svc_source_run() {
    local bin
    bin=$(svc_source_bin)
    [[ -x $bin ]] || us_die "$bin is missing: run ./userstream build"
    exec "$bin" --bind "$US_BIND" --port "$US_SOURCE_PORT" --metrics-port "$US_SOURCE_METRICS_PORT"
}

svc_source_ready() {
    curl -fsS --max-time 5 -o /dev/null "http://$US_BIND:$US_SOURCE_PORT/api/1.4/?results=1&seed=ready"
}
