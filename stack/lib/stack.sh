# stack/lib/stack.sh: the stack commands (setup, up, run, down, status, logs,
# restart) on top of the service files in stack/services/ (interface in
# docs/development.md).

US_SERVICE_FILES=()

# us_service_name FILE: stack/services/10-postgres.sh -> postgres
us_service_name() {
    local b
    b=$(basename "$1" .sh)
    b=${b#*-}
    echo "${b//-/_}"
}

us_services_load() {
    local f
    US_SERVICE_FILES=()
    for f in "$US_ROOT"/stack/services/[0-9][0-9]-*.sh; do
        [[ -e $f ]] || continue
        # shellcheck disable=SC1090
        source "$f"
        US_SERVICE_FILES+=("$f")
    done
}

# us_services GROUP: names of the services of GROUP (engine|pipeline|all), in order.
us_services() {
    local f name
    for f in "${US_SERVICE_FILES[@]}"; do
        name=$(us_service_name "$f")
        if [[ $1 == all || $(svc_"${name}"_group) == "$1" ]]; then echo "$name"; fi
    done
}

us_service_known() {
    declare -F "svc_${1}_run" >/dev/null || us_die "unknown service '$1' (known: $(us_services all | tr '\n' ' '))"
}

# us_svc_opt NAME FUNC DEFAULT: output of the optional svc_NAME_FUNC, or DEFAULT.
us_svc_opt() {
    if declare -F "svc_${1}_$2" >/dev/null; then "svc_${1}_$2"; else echo "$3"; fi
}

us_service_log() { us_svc_opt "$1" log "$US_LOG_DIR/$1.log"; }

us_service_ready() { "svc_${1}_ready" >/dev/null 2>&1; }

# us_check_ports: no two configured ports are the same (us_ports_free_for
# then checks, per service, that nobody else listens on them).
us_check_ports() {
    local key
    declare -A seen=()
    for key in $(compgen -e | grep -E '^US_[A-Z0-9_]+_PORT$'); do
        local p=${!key}
        [[ $p == 0 ]] && continue # off (US_RELAY_METRICS_PORT, US_*_METRICS_PORT)
        [[ -n ${seen[$p]:-} ]] && us_die "$key and ${seen[$p]} are both port $p: every service needs its own"
        seen[$p]=$key
    done
}

us_ports_free_for() {
    local name=$1 p
    for p in $(us_svc_opt "$name" ports ""); do
        us_port_free "$p" || us_die "port $p for $name is already in use by another process (change it in userstream.conf or set US_PORT_OFFSET)"
    done
}

# us_service_start NAME: init, start under supervisord, wait until ready
# (through the service's real protocol), then post_start.
us_service_start() {
    local name=$1 start=$SECONDS state log timeout
    log=$(us_service_log "$name")
    state=$(us_program_state "$name")
    if [[ $state == RUNNING ]] && us_service_ready "$name"; then
        us_ok "$name already running ($(svc_"${name}"_address))"
    else
        if [[ $state != RUNNING && $state != STARTING ]]; then
            us_ports_free_for "$name"
            if declare -F "svc_${name}_init" >/dev/null; then "svc_${name}_init"; fi
            printf '    starting %s ...\n' "$name"
            us_supervisorctl start "$name" >/dev/null ||
                us_fail_with_log "$name did not start (supervisor state: $(us_program_state "$name"))" "$log"
        fi
        timeout=$(us_svc_opt "$name" timeout 180)
        US_WAIT_ALIVE="[[ \$(us_program_state $name) == RUNNING ]]" \
            us_wait_until "$timeout" "$name" "$log" "svc_${name}_ready"
        us_ok "$name ready in $(us_elapsed "$start") ($(svc_"${name}"_address))"
    fi
    if declare -F "svc_${name}_post_start" >/dev/null; then "svc_${name}_post_start"; fi
}

# us_home_prepare: the state directory, marked so `down --purge` knows it is ours.
us_home_prepare() {
    mkdir -p "$US_HOME" "$US_LOG_DIR"
    [[ -f $US_HOME/.userstream-home ]] || echo "userstream state directory; ./userstream down --purge deletes it" >"$US_HOME/.userstream-home"
}

# us_lock FILE WHAT: exclusive lock held until this shell exits, waiting
# with a message. Taking a lock this shell already holds is a no-op.
declare -A US_LOCKS=()
us_lock() {
    local file=$1 what=$2 fd
    [[ -n ${US_LOCKS[$file]:-} ]] && return 0
    mkdir -p "$(dirname "$file")"
    exec {fd}>>"$file"
    if ! flock -n "$fd"; then
        us_note "waiting for $what ($file) ..."
        flock "$fd"
    fi
    US_LOCKS[$file]=$fd
}

cmd_setup() {
    case ${1:-} in
        --check) US_SETUP_CHECK=1 ;;
        "") ;;
        *) us_die "setup: unknown option '$1'" ;;
    esac
    us_lock "$US_CACHE/.setup.lock" "another setup using $US_CACHE"
    US_SETUP_CHECK=${US_SETUP_CHECK:-} us_setup
}

cmd_up() {
    local start=$SECONDS
    [[ $# -eq 0 ]] || us_die "up takes no arguments"
    us_check_ports
    (cmd_setup) || exit 1
    us_home_prepare
    us_lock "$US_HOME/.stack.lock" "another up/down on $US_HOME"
    us_venv_use_stack
    us_venv_warn_stale
    us_step "Starting the stack in $US_HOME (ports offset by $US_PORT_OFFSET)"
    us_supervisor_start
    local name
    for name in $(us_services engine); do
        us_service_start "$name"
    done
    us_ok "all engines ready in $(us_elapsed $start); ./userstream status shows them"
}

cmd_run() {
    [[ $# -eq 0 ]] || us_die "run takes no arguments"
    (cmd_setup) || exit 1
    cmd_build
    cmd_up
    us_lock "$US_HOME/.stack.lock" "another up/down on $US_HOME"
    local name n=0
    for name in $(us_services pipeline); do
        us_service_start "$name"
        n=$((n + 1))
    done
    if [[ $n -eq 0 ]]; then
        us_note "no pipeline programs yet: the engines are up"
        return 0
    fi
    us_ok "pipeline programs running; ./userstream status shows them"
    us_dags_unpause
    us_wait_flowing "${US_RUN_WAIT_S:-300}"
    us_where_to_look
}

cmd_restart() {
    [[ $# -eq 1 ]] || us_die "usage: ./userstream restart SERVICE"
    us_service_known "$1"
    us_supervisord_pid >/dev/null || us_die "the stack is not running (./userstream up)"
    us_lock "$US_HOME/.stack.lock" "another up/down on $US_HOME"
    us_step "Restarting $1"
    us_supervisorctl stop "$1" >/dev/null || true
    us_service_start "$1"
}

cmd_down() {
    local purge=""
    case ${1:-} in
        --purge) purge=1 ;;
        "") ;;
        *) us_die "down: unknown option '$1'" ;;
    esac
    if [[ -d $US_HOME ]]; then us_lock "$US_HOME/.stack.lock" "another up/down on $US_HOME"; fi
    us_step "Stopping the stack in $US_HOME"
    local pid
    if pid=$(us_supervisord_pid); then
        # Reverse start order (supervisor stops by descending priority).
        us_supervisorctl stop all >/dev/null || true
        us_supervisorctl shutdown >/dev/null || true
        local t=$SECONDS
        while kill -0 "$pid" 2>/dev/null; do
            ((SECONDS - t < 120)) || { us_warn "supervisord ($pid) still running; killing it"; kill -9 "$pid" 2>/dev/null || true; }
            sleep 0.5
        done
        us_ok "supervisord and its programs stopped"
    else
        us_ok "supervisord was not running"
    fi
    us_reap_leftovers
    if [[ -n $purge ]]; then
        us_purge_home
    fi
}

# us_reap_leftovers: any process still carrying this stack's marker (a child
# that escaped its process group) is stopped; `down` leaves nothing behind.
us_reap_leftovers() {
    local pids
    pids=$(us_stack_pids | tr '\n' ' ')
    [[ -z ${pids// /} ]] && return 0
    us_warn "processes of this stack still running, stopping them: $pids"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    local t=$SECONDS
    while [[ -n $(us_stack_pids) ]] && ((SECONDS - t < 20)); do sleep 0.5; done
    pids=$(us_stack_pids | tr '\n' ' ')
    # shellcheck disable=SC2086
    [[ -n ${pids// /} ]] && kill -KILL $pids 2>/dev/null || true
}

us_purge_home() {
    [[ -d $US_HOME ]] || { us_ok "nothing to purge: $US_HOME does not exist"; return 0; }
    [[ -f $US_HOME/.userstream-home ]] ||
        us_die "refusing to delete $US_HOME: it has no .userstream-home marker, so it may not be ours"
    rm -rf "$US_HOME"
    us_ok "deleted $US_HOME"
}

cmd_status() {
    # The first column as wide as the longest service name (airflow_dag_processor);
    # STATE fits "RUNNING not-ready".
    local w=14 n
    for n in $(us_services all); do ((${#n} <= w)) || w=${#n}; done
    local fmt="%-${w}s %-9s %8s  %-28s %-17s %-18s %8s\n"
    # shellcheck disable=SC2059
    printf "$fmt" SERVICE GROUP PID ADDRESS STATE VERSION MEMORY
    local running=""
    us_supervisord_pid >/dev/null && running=1
    local name pid state ver mem
    for name in $(us_services all); do
        pid="-" state="STOPPED" mem="-"
        if [[ -n $running ]]; then
            state=$(us_program_state "$name")
            pid=$(us_program_pid "$name") || pid="-"
        fi
        if [[ $state == RUNNING ]]; then
            if us_service_ready "$name"; then state="RUNNING ready"; else state="RUNNING not-ready"; fi
        fi
        [[ $pid != "-" ]] && mem=$(us_human_kb "$(us_rss_kb "$pid")")
        ver=$(svc_"${name}"_version 2>/dev/null) || ver="?"
        # shellcheck disable=SC2059
        printf "$fmt" "$name" "$(svc_"${name}"_group)" "$pid" "$(svc_"${name}"_address)" "$state" "$ver" "$mem"
    done
    us_venv_warn_stale
}

cmd_logs() {
    local name="" follow="" n=60 a
    for a in "$@"; do
        case $a in
            -f) follow=1 ;;
            -n*) n=${a#-n} ;;
            *) name=$a ;;
        esac
    done
    if [[ -z $name ]]; then
        echo "Logs in $US_LOG_DIR (./userstream logs SERVICE [-f] [-nLINES]):"
        ls -1 "$US_LOG_DIR" 2>/dev/null | sed 's/^/  /'
        return 0
    fi
    us_service_known "$name"
    local log
    log=$(us_service_log "$name")
    [[ -f $log ]] || us_die "no log yet: $log"
    if [[ -n $follow ]]; then exec tail -n "$n" -F "$log"; else tail -n "$n" "$log"; fi
}

# cmd_exec NAME: what supervisord runs: the service in the foreground.
cmd_exec() {
    [[ $# -eq 1 ]] || us_die "usage: ./userstream _exec SERVICE"
    us_service_known "$1"
    cd "$US_HOME"
    us_pgpass_for_service "$1"
    "svc_${1}_run"
    us_die "svc_${1}_run returned instead of exec'ing its process"
}

# us_pgpass_for_service NAME: a supervised process holds only its own
# PostgreSQL password: PGPASSFILE is $US_SECRETS_DIR/pgpass-<role> for the role
# svc_NAME_pg_role names, and unset for a service that names none (never the
# operator's file with every role).
us_pgpass_for_service() {
    local role
    role=$(us_svc_opt "$1" pg_role "")
    if [[ -n $role ]]; then
        export PGPASSFILE=$US_SECRETS_DIR/pgpass-$role
    else
        unset PGPASSFILE
    fi
}

cmd_migrate() {
    us_supervisord_pid >/dev/null || us_die "the stack is not running (./userstream up)"
    local name
    for name in $(us_services engine); do
        if declare -F "svc_${name}_post_start" >/dev/null; then "svc_${name}_post_start"; fi
    done
}

cmd_psql() {
    local role=$US_PG_ADMIN_USER
    if [[ $# -gt 0 && $1 != -* ]]; then role=$1; shift; fi
    exec psql -h "$US_PG_HOST" -p "$US_PG_PORT" -U "$role" -d "$US_PG_DATABASE" -w "$@"
}

cmd_cqlsh() {
    # As the admin role, from its credentials file (never a password in argv).
    exec "$US_VENV/bin/cqlsh" "$US_CASSANDRA_HOST" "$US_CASSANDRA_PORT" \
        --credentials "$US_CASSANDRA_ADMIN_CREDENTIALS" "$@"
}

cmd_kafka_topics() {
    cmd_kafka_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$US_KAFKA_BOOTSTRAP" \
        --command-config "$US_KAFKA_DIR/config/admin-client.properties" "$@"
}

# cmd_kafka_run CLASS ARGS: any of Kafka's tools (what bin/kafka-run-class.sh does).
cmd_kafka_run() {
    [[ $# -gt 0 ]] || us_die "usage: ./userstream kafka-run CLASS [ARGS] (e.g. kafka.tools.DumpLogSegments)"
    mkdir -p "$US_KAFKA_DIR/config"
    [[ -f $US_KAFKA_DIR/config/tools-log4j2.properties ]] || us_kafka_write_config
    us_kafka_tool "$@"
}

cmd_kcat() {
    # As the admin principal: the credentials come from a file (-F), never argv.
    exec kcat -F "$US_KAFKA_ADMIN_CLIENT_FILE" -b "$US_KAFKA_BOOTSTRAP" "$@"
}
