# Apache Airflow 3 api-server (REST API, UI and the task execution API that
# LocalExecutor workers call back into), from the venv. Also owns what every
# Airflow component shares: the environment (us_airflow_env), the secrets,
# and `airflow db migrate` (in init, so it runs at every `up`; idempotent).
#
# Configuration is environment only (AIRFLOW__SECTION__KEY, built from
# userstream.conf), so every component and every `stack/airflow/airflow`
# command agree. Secrets never appear in an environment or a command line:
# Fernet key, API secret key and JWT secret are read from $US_SECRETS_DIR by
# Airflow's *_CMD mechanism, and the metadata database password comes from
# the airflow role's libpq password file, so the connection URL carries none.

svc_airflow_api_server_group() { echo engine; }
svc_airflow_api_server_address() { echo "$US_AIRFLOW_URL"; }
svc_airflow_api_server_ports() { echo "$US_AIRFLOW_PORT"; }
svc_airflow_api_server_timeout() { echo 180; }
svc_airflow_api_server_version() { us_airflow_version; }
# In containers its post_start (the Connections) runs in its own container after
# its init's `db migrate`, not in the migrate job (stack/lib/container.sh).
svc_airflow_api_server_container_post_start() { :; }

us_airflow_version() {
    local f
    for f in "$US_VENV"/lib/python3*/site-packages/apache_airflow_core-*.dist-info; do
        [[ -d $f ]] && { f=${f##*/apache_airflow_core-}; echo "${f%.dist-info}"; return 0; }
    done
    echo "?"
}

# us_airflow_env: exports the configuration of this stack's Airflow.
us_airflow_env() {
    export AIRFLOW_HOME=$US_HOME/airflow
    export AIRFLOW_CONFIG=$AIRFLOW_HOME/airflow.cfg
    # The airflow role's password only; a task gives the loader its own file.
    export PGPASSFILE=$US_SECRETS_DIR/pgpass-$US_PG_AIRFLOW_USER
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://$US_PG_AIRFLOW_USER@$US_PG_HOST:$US_PG_PORT/$US_PG_AIRFLOW_DATABASE"
    export AIRFLOW__CORE__FERNET_KEY_CMD="cat $US_SECRETS_DIR/airflow-fernet-key"
    export AIRFLOW__API__SECRET_KEY_CMD="cat $US_SECRETS_DIR/airflow-api-secret-key"
    export AIRFLOW__API_AUTH__JWT_SECRET_CMD="cat $US_SECRETS_DIR/airflow-jwt-secret"
    # SimpleAuthManager (Airflow 3's default): user admin, generated password here.
    export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$US_SECRETS_DIR/airflow-passwords.json
    export AIRFLOW__CORE__EXECUTOR=LocalExecutor
    export AIRFLOW__CORE__LOAD_EXAMPLES=False
    export AIRFLOW__CORE__DAGS_FOLDER=$US_ROOT/airflow/dags
    # Two cores for everything: LocalExecutor forks `parallelism` workers.
    export AIRFLOW__CORE__PARALLELISM=${US_AIRFLOW_PARALLELISM:-2}
    export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=$AIRFLOW__CORE__PARALLELISM
    export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
    export AIRFLOW__API__HOST=$US_BIND AIRFLOW__API__PORT=$US_AIRFLOW_PORT AIRFLOW__API__WORKERS=1
    # Without these, task runners call the execution API at localhost:8080.
    export AIRFLOW__API__BASE_URL=$US_AIRFLOW_URL
    export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=$US_AIRFLOW_URL/execution/
    export JAVA_HOME=$JAVA_HOME_17 PATH=$US_VENV/bin:$PATH
}

# us_airflow_secrets: generated once into $US_SECRETS_DIR (mode 0600).
us_airflow_secrets() {
    us_secret airflow-api-secret-key >/dev/null
    us_secret airflow-jwt-secret >/dev/null
    local f=$US_SECRETS_DIR/airflow-fernet-key
    if [[ ! -s $f ]]; then
        # A Fernet key is 32 random bytes, URL-safe base64 (44 characters).
        (umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' >"$f.tmp" && mv "$f.tmp" "$f")
    fi
    # The UI/API login of SimpleAuthManager. Written here, mode 0600: left to
    # itself, Airflow creates this file world-readable and prints the generated
    # password to the api-server's log.
    f=$US_SECRETS_DIR/airflow-passwords.json
    if [[ ! -s $f ]]; then
        (umask 077 && printf '{"admin": "%s"}\n' "$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 24)" \
            >"$f.tmp" && mv "$f.tmp" "$f")
    fi
}

# us_airflow CMD...: the Airflow CLI against this stack (env as above).
us_airflow() { (us_airflow_env && "$US_VENV/bin/airflow" "$@"); }

svc_airflow_api_server_setup() {
    if [[ -x $US_VENV/bin/airflow ]]; then
        us_ok "Airflow $(us_airflow_version): $US_VENV/bin/airflow"
    else
        us_note "Airflow missing in $US_VENV (stack/python/requirements.txt)"
        return 1
    fi
}

# Before the first component starts: secrets, a placeholder airflow.cfg (else
# Airflow writes a 3,500-line one with random keys that the environment
# overrides anyway), then the metadata schema. `db migrate` is idempotent.
svc_airflow_api_server_init() {
    mkdir -p "$US_HOME/airflow/logs"
    us_airflow_secrets
    [[ -f $US_HOME/airflow/airflow.cfg ]] ||
        printf '# Airflow of the userstream stack: configured by environment (stack/services/60-airflow-api-server.sh)\n' \
            >"$US_HOME/airflow/airflow.cfg"
    local log=$US_LOG_DIR/airflow-db-migrate.log start=$SECONDS
    us_airflow db migrate >"$log" 2>&1 || us_fail_with_log "airflow db migrate failed" "$log"
    us_ok "Airflow metadata schema up to date in $(us_elapsed $start) ($US_PG_AIRFLOW_DATABASE database)"
}

# The DAGs' credentials are Airflow Connections (stored encrypted with the
# Fernet key in the metadata database), made here from the generated secrets:
# userstream_pg_loader (the loader's role), userstream_pg_ops (the quality
# checks' role), userstream_cassandra_reader / _repair (the reconciliation's
# Cassandra logins: console_reader, reconciler), userstream_source (the API,
# no secret). They go in through
# `airflow connections import` of a 0600 file deleted right after, so no
# password is on a command line; AIRFLOW_CONN_* variables were not used: they
# would sit in the environment of every Airflow process. Imported again only
# when the passwords or addresses changed (digest in airflow/connections.applied).
svc_airflow_api_server_post_start() { us_airflow_connections_apply; }

us_airflow_connections_json() {
    US_LOADER_PW=$(us_secret "pg-$US_PG_LOADER_USER") US_OPS_PW=$(us_secret "pg-$US_PG_OPS_USER") \
        US_CASS_READER_PW=$(us_secret cassandra-reader) US_CASS_RECONCILER_PW=$(us_secret cassandra-reconciler) \
        "$US_VENV/bin/python" -c '
import json, os
e = os.environ
pg = {"conn_type": "postgres", "host": e["US_PG_HOST"], "port": int(e["US_PG_PORT"]), "schema": e["US_PG_DATABASE"]}
cql = {"conn_type": "generic", "host": e["US_CASSANDRA_HOST"], "port": int(e["US_CASSANDRA_PORT"]),
       "schema": e["US_CASSANDRA_KEYSPACE"]}
print(json.dumps({
    "userstream_pg_loader": dict(pg, login=e["US_PG_LOADER_USER"], password=e["US_LOADER_PW"],
                                 description="userstream-load: staging writes (loader role)"),
    "userstream_pg_ops": dict(pg, login=e["US_PG_OPS_USER"], password=e["US_OPS_PW"],
                              description="quality checks: reads staging, reads/writes ops (ops role)"),
    "userstream_cassandra_reader": dict(cql, login="console_reader", password=e["US_CASS_READER_PW"],
                                        description="reconciliation: reads the users tables (SELECT)"),
    "userstream_cassandra_repair": dict(cql, login="reconciler", password=e["US_CASS_RECONCILER_PW"],
                                        description="reconciliation repair: deletes ghost rows (users tables)"),
    "userstream_source": {"conn_type": "http", "host": e["US_SOURCE_URL"],
                          "description": "the randomuser.me-compatible API the loader fetches"},
}, indent=1))'
}

us_airflow_connections_apply() {
    local f=$US_HOME/airflow/connections.json mark=$US_HOME/airflow/connections.applied digest
    local log=$US_LOG_DIR/airflow-connections.log
    us_airflow_connections_json | us_secret_write "$f"
    digest=$(sha256sum "$f" | cut -c1-64)
    if [[ -f $mark && $(cat "$mark") == "$digest" ]]; then
        rm -f "$f"
        us_ok "Airflow connections unchanged (userstream_pg_*, userstream_cassandra_*, userstream_source)"
        return 0
    fi
    us_airflow connections import --overwrite "$f" >"$log" 2>&1 ||
        { rm -f "$f"; us_fail_with_log "could not import the Airflow connections" "$log"; }
    rm -f "$f"
    echo "$digest" >"$mark"
    us_ok "Airflow connections: userstream_pg_loader, userstream_pg_ops, userstream_cassandra_reader, userstream_cassandra_repair, userstream_source"
}

svc_airflow_api_server_run() {
    us_airflow_env
    exec "$US_VENV/bin/airflow" api-server
}

# us_airflow_health: the api-server's health document (no login needed).
us_airflow_health() {
    curl -fsS --max-time 5 "$US_AIRFLOW_URL/api/v2/monitor/health"
}

# us_airflow_component_ready NAME KEY: the health document reports KEY
# healthy, with a heartbeat newer than the start of service NAME's process
# (a heartbeat left by an earlier run does not count).
us_airflow_component_ready() {
    local pid
    pid=$(us_program_pid "$1") || return 1
    us_airflow_health | US_PID=$pid US_KEY=$2 "$US_VENV/bin/python" -c '
import datetime, json, os, sys, psutil
doc = json.load(sys.stdin).get(os.environ["US_KEY"]) or {}
beat = None
for k, v in doc.items():
    if k.startswith("latest_") and k.endswith("_heartbeat") and v:
        beat = datetime.datetime.fromisoformat(v).timestamp()
started = psutil.Process(int(os.environ["US_PID"])).create_time()
sys.exit(0 if doc.get("status") == "healthy" and beat is not None and beat >= started else 1)'
}

svc_airflow_api_server_ready() {
    us_airflow_health | "$US_VENV/bin/python" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["metadatabase"]["status"] == "healthy" else 1)'
}

# A PostgreSQL restart makes it exit (its metadata database is gone); supervisord
# starts it again, with a growing back-off, until PostgreSQL answers, instead of
# giving up (FATAL) after one failed start.
svc_airflow_api_server_supervisor() { echo startretries=30; }
