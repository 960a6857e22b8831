# stack/lib/container.sh: the pipeline in containers (deploy/, docs/containers.md).
#
# Inside a container (`./userstream _container ...`, the image's commands) the
# service files of stack/services/ are used exactly as the local stack uses them:
# `run NAME` = svc_NAME_init + `_exec NAME`, `health NAME` = svc_NAME_ready,
# `migrate [ENGINE...]` = every (or those) engine's svc_NAME_post_start. One
# definition of each engine.
# On the host, `./userstream compose up|down|status|logs|build` drives Docker
# (starting dockerd and making the base image when they are missing).

US_COMPOSE_FILE=$US_ROOT/deploy/compose.yaml

# --- inside a container -------------------------------------------------------

cmd_container() {
    local what=${1:-}
    [[ $# -gt 0 ]] && shift
    case $what in
        setup) us_container_setup ;;
        secrets) us_container_secrets ;;
        run)
            [[ $# -eq 1 ]] || us_die "usage: ./userstream _container run SERVICE"
            us_service_known "$1"
            us_container_mode
            mkdir -p "$US_LOG_DIR"
            if declare -F "svc_${1}_init" >/dev/null; then "svc_${1}_init"; fi
            if us_container_own_post_start "$1" && declare -F "svc_${1}_post_start" >/dev/null; then
                "svc_${1}_post_start"
            fi
            cmd_exec "$1"
            ;;
        health)
            [[ $# -eq 1 ]] || us_die "usage: ./userstream _container health SERVICE"
            us_service_known "$1"
            us_container_mode
            "svc_${1}_ready" >/dev/null 2>&1
            ;;
        migrate)
            us_container_mode
            mkdir -p "$US_LOG_DIR"
            # The admin clients' files of Kafka's tools and Cassandra's first
            # login live beside the engines: made here too (same secrets).
            us_kafka_write_credentials
            us_cassandra_write_credentials
            # `migrate ENGINE...`: only those (the migrate-postgres job).
            local name
            for name in "$@"; do
                [[ " $(us_services engine | tr '\n' ' ') " == *" $name "* ]] ||
                    us_die "_container migrate: '$name' is not an engine ($(us_services engine | tr '\n' ' '))"
            done
            for name in $(us_services engine); do
                us_container_own_post_start "$name" && continue
                [[ $# -eq 0 || " $* " == *" $name "* ]] || continue
                if declare -F "svc_${name}_post_start" >/dev/null; then "svc_${name}_post_start"; fi
            done
            ;;
        *) us_die "usage: ./userstream _container setup|secrets|run SERVICE|health SERVICE|migrate [ENGINE...]" ;;
    esac
}

# us_container_own_post_start NAME: true for a service whose post-start step
# runs in its own container, after its init, instead of in the migrate job: a
# service file says so with svc_NAME_container_post_start (e.g. the Airflow
# Connections need the metadata schema that the api-server's init migrates,
# and the migrate job does not wait for Airflow).
us_container_own_post_start() { declare -F "svc_${1}_container_post_start" >/dev/null; }

# us_container_mode: one service per container, started by tini (PID 1), not by
# supervisord: the service's process is PID 1's child (a `docker exec` process
# has no parent inside the container).
us_container_mode() {
    us_program_pid() { ps -o pid= --ppid 1 | awk 'NR == 1 {print $1}'; }
    us_program_state() { echo RUNNING; }
}

# us_container_setup: what `setup` installs, without the Debian packages (the
# Dockerfile installs those): the venv, the engines, the console's uPlot.
# Whatever the build context's cache already holds is only checked.
us_container_setup() {
    mkdir -p "$US_CACHE/logs"
    us_setup_venv
    local f
    for f in "${US_SERVICE_FILES[@]}"; do
        # No Prometheus container (docs/containers.md): only the JMX exporter
        # agent that its setup fetches for Kafka and Cassandra.
        if [[ $(us_service_name "$f") == prometheus ]]; then
            us_jmx_exporter_setup
            continue
        fi
        "svc_$(us_service_name "$f")_setup"
    done
}

# us_container_secrets: every generated secret, made once into the secrets
# volume before any service starts (so no two containers race to make one).
us_container_secrets() {
    us_pgpass_write
    us_airflow_secrets
    local s
    for s in pii_hmac_key console-password console-metrics-token spark-auth kafka-controller cassandra-jmx; do
        us_secret "$s" >/dev/null
    done
    # The engines' client credentials files (Kafka, registry, Cassandra): the
    # services read them from the read-only volume; their init, which writes
    # the same files, then finds them identical (us_secret_write).
    us_kafka_write_credentials
    us_registry_write_auth
    us_cassandra_write_credentials
    us_ok "secrets in $US_SECRETS_DIR: $(find "$US_SECRETS_DIR" -type f | wc -l) files"
}

# --- on the host: docker and compose ----------------------------------------------

# The Debian client (docker.io, the same version as its dockerd), never whatever
# `docker` comes first on PATH (a newer client may speak an API dockerd lacks).
us_docker() { "${US_DOCKER:-/usr/bin/docker}" "$@"; }

# us_compose ARGS: docker-compose v1 (Debian's) on deploy/compose.yaml, with the
# published ports shifted by US_PORT_OFFSET and the project named by
# US_COMPOSE_PROJECT (default userstream). US_COMPOSE_PROFILE=NAME reads
# deploy/NAME.env as Compose's environment file (the `cluster` profile:
# deploy/cluster.env enables it and sets its nodes' configuration).
us_compose() {
    local -a env=() envfile=()
    mapfile -t env < <(us_compose_env)
    if [[ -n ${US_COMPOSE_PROFILE:-} ]]; then
        [[ -f $US_ROOT/deploy/$US_COMPOSE_PROFILE.env ]] ||
            us_die "US_COMPOSE_PROFILE=$US_COMPOSE_PROFILE: no deploy/$US_COMPOSE_PROFILE.env (profiles: cluster)"
        envfile=(--env-file "$US_ROOT/deploy/$US_COMPOSE_PROFILE.env")
    fi
    env "${env[@]}" COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 \
        DOCKER_HOST="unix:///var/run/docker.sock" \
        "${US_DOCKER_COMPOSE:-/usr/bin/docker-compose}" --project-directory "$US_ROOT/deploy" \
        -p "${US_COMPOSE_PROJECT:-userstream}" -f "$US_COMPOSE_FILE" "${envfile[@]}" "$@"
}

# us_compose_env: US_PUB_<X>_PORT=... for compose.yaml: the published host port
# of each service = its port in the configuration (already offset).
us_compose_env() {
    local k
    for k in PG KAFKA REGISTRY CASSANDRA SPARK_MASTER_UI AIRFLOW SOURCE RELAY_METRICS CONSOLE SPARK_DRIVER_UI; do
        local v=US_${k}_PORT
        echo "US_PUB_${k}_PORT=${!v}"
    done
    echo "US_IMAGE=${US_IMAGE:-userstream:latest}"
}

# us_dockerd_ensure: dockerd answers, started here in the background when it
# does not (machines without systemd); its log is $US_CACHE/logs/dockerd.log.
us_dockerd_ensure() {
    us_docker info >/dev/null 2>&1 && return 0
    command -v dockerd >/dev/null || us_die "dockerd is missing: install Debian's docker.io (and docker-compose, debootstrap)"
    [[ $(id -u) -eq 0 ]] || us_die "dockerd is not running and only root can start it"
    mkdir -p "$US_CACHE/logs"
    us_note "starting dockerd (log: $US_CACHE/logs/dockerd.log)"
    (
        for fd in "${US_LOCKS[@]}"; do exec {fd}>&-; done
        setsid dockerd >>"$US_CACHE/logs/dockerd.log" 2>&1 </dev/null &
    )
    us_wait_until 60 dockerd "$US_CACHE/logs/dockerd.log" us_docker info
    us_ok "dockerd running"
}

# us_base_image_ensure: debian:bookworm-slim, pulled when a registry has it,
# else made offline: debootstrap --variant=minbase from this machine's Debian
# mirror, imported under that tag.
us_base_image_ensure() {
    local tag=debian:bookworm-slim
    us_docker image inspect "$tag" >/dev/null 2>&1 && { us_ok "base image $tag present"; return 0; }
    if timeout 60 "${US_DOCKER:-/usr/bin/docker}" pull -q "$tag" >/dev/null 2>&1; then
        us_ok "base image $tag pulled"
        return 0
    fi
    command -v debootstrap >/dev/null || us_die "no registry serves $tag and debootstrap is missing (apt-get install debootstrap)"
    local mirror root=$US_CACHE/rootfs-bookworm start=$SECONDS log=$US_CACHE/logs/debootstrap.log
    mirror=$(us_debian_mirror)
    us_note "no registry serves $tag: making it with debootstrap from $mirror (log: $log)"
    rm -rf "$root"
    mkdir -p "$US_CACHE/logs"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1 ||
        us_fail_with_log "debootstrap failed" "$log"
    # The sources of the official image: the release, its updates and security.
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | us_docker import - "$tag" >/dev/null || us_die "docker import of $tag failed"
    rm -rf "$root"
    us_ok "base image $tag made in $(us_elapsed $start)"
}

# us_debian_mirror: the first Debian mirror of /etc/apt/sources.list(.d).
us_debian_mirror() {
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' | grep -v security | head -n 1)
    [[ -n $m ]] || m=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    echo "${m:-http://deb.debian.org/debian}"
}

# us_docker_cache_stage: .docker-cache/ in the build context: hard links to
# what this machine's setup installed (engines, venv, uPlot), so the image
# build copies them instead of downloading them again. Without them the
# Dockerfile installs from the registries itself.
us_docker_cache_stage() {
    local c=$US_ROOT/.docker-cache d
    rm -rf "$c"
    mkdir -p "$c/engines"
    for d in kafka cassandra apicurio spark-jars jmx-exporter; do
        local e
        e=$(us_engine_dir "$d") || continue
        [[ -f $e/.complete ]] && cp -al "$e" "$c/engines/"
    done
    [[ -d $US_CACHE/npm/node_modules/uplot ]] && cp -al "$US_CACHE/npm" "$c/npm"
    # This machine's extra CA certificates (a TLS-inspecting proxy): the build
    # stage trusts them for pip, Maven and npm; the runtime image never has them.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        mkdir -p "$c/ca-certificates"
        cp /usr/local/share/ca-certificates/*.crt "$c/ca-certificates/"
    fi
    if [[ -f $US_VENV/.userstream-stamp ]]; then
        cp -al "$US_VENV" "$c/$(basename "$US_VENV")"
        echo "$US_VENV" >"$c/venv.origin"
    fi
    return 0
}

us_image_build() {
    local start=$SECONDS log=$US_CACHE/logs/docker-build.log
    us_docker_cache_stage
    us_step "Building ${US_IMAGE:-userstream:latest} (deploy/Dockerfile; log: $log)"
    DOCKER_BUILDKIT=1 us_docker build --network host -f "$US_ROOT/deploy/Dockerfile" \
        -t "${US_IMAGE:-userstream:latest}" "$US_ROOT" >"$log" 2>&1 ||
        { rm -rf "$US_ROOT/.docker-cache"; us_fail_with_log "docker build failed" "$log"; }
    rm -rf "$US_ROOT/.docker-cache"
    us_ok "image built in $(us_elapsed $start) ($(us_docker image inspect -f '{{.Size}}' "${US_IMAGE:-userstream:latest}" | awk '{printf "%.2f GB", $1/1e9}'))"
}

# us_compose_wait_healthy TIMEOUT: every long-running container healthy.
us_compose_wait_healthy() {
    local timeout=$1 start=$SECONDS bad
    while true; do
        bad=$(us_compose_unhealthy)
        [[ -z $bad ]] && break
        if ((SECONDS - start >= timeout)); then
            us_compose ps >&2
            us_die "not healthy after ${timeout}s: $bad (./userstream compose logs SERVICE)"
        fi
        sleep 3
    done
    us_ok "every container healthy in $(us_elapsed "$start")"
}

# us_compose_unhealthy: the services whose container is not healthy (the
# one-shot jobs: not exited 0), as one line.
us_compose_unhealthy() {
    local id out=""
    for id in $(us_compose ps -q -a 2>/dev/null || us_compose ps -q); do
        local line svc state health code
        line=$(us_docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id" 2>/dev/null) || continue
        read -r svc state health code <<<"$line"
        if [[ $health == none ]]; then
            [[ $state == exited && $code == 0 ]] || out+="$svc($state) "
        elif [[ $health != healthy ]]; then
            out+="$svc($health) "
        fi
    done
    [[ -n $(us_compose ps -q 2>/dev/null) ]] || out="no containers"
    echo "$out"
}

cmd_compose() {
    local what=${1:-status}
    [[ $# -gt 0 ]] && shift
    us_dockerd_ensure
    case $what in
        build)
            us_base_image_ensure
            us_image_build
            ;;
        up)
            local start=$SECONDS
            us_base_image_ensure
            us_image_build
            us_step "Starting the containers (project ${US_COMPOSE_PROJECT:-userstream}, ports 127.0.0.1 offset by $US_PORT_OFFSET)"
            us_compose up -d --no-build "$@" || us_die "docker-compose up failed"
            us_compose_wait_healthy "${US_COMPOSE_WAIT_S:-900}"
            us_ok "containers up in $(us_elapsed $start); ./userstream compose status shows them"
            ;;
        down)
            local -a args=(--remove-orphans)
            [[ ${1:-} == --purge ]] && args+=(-v)
            us_compose down "${args[@]}"
            ;;
        status) us_compose ps "$@" ;;
        logs) us_compose logs --tail="${US_LOG_LINES:-100}" "$@" ;;
        ps | exec | run | config | top) us_compose "$what" "$@" ;;
        *) us_die "usage: ./userstream compose up|down [--purge]|status|logs [SERVICE]|build|exec ..." ;;
    esac
}
