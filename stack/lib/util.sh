# stack/lib/util.sh: messages, waiting, secrets and process helpers shared by
# ./userstream and the service files.

if [[ -t 1 ]]; then US_B=$'\e[1m' US_G=$'\e[32m' US_R=$'\e[31m' US_Y=$'\e[33m' US_0=$'\e[0m'
else US_B="" US_G="" US_R="" US_Y="" US_0=""; fi

us_step() { printf '%s==>%s %s\n' "$US_B" "$US_0" "$*"; }
us_ok() { printf '    %sok%s %s\n' "$US_G" "$US_0" "$*"; }
us_note() { printf '    %s\n' "$*"; }
us_warn() { printf '%swarning:%s %s\n' "$US_Y" "$US_0" "$*" >&2; }
us_die() {
    printf '%suserstream: error:%s %s\n' "$US_R" "$US_0" "$*" >&2
    exit 1
}

# us_elapsed START: seconds since START (from $SECONDS) as "12s".
us_elapsed() { printf '%ss' $((SECONDS - $1)); }

# us_wait_until TIMEOUT WHAT LOG CMD...: runs CMD every second until it
# succeeds. On timeout, dies naming WHAT and its LOG (with the log's tail).
# US_WAIT_ALIVE, when set, is a command that must keep succeeding (e.g. "the
# process is still running"); if it fails, waiting stops at once.
us_wait_until() {
    local timeout=$1 what=$2 log=$3
    shift 3
    local start=$SECONDS
    until "$@" >/dev/null 2>&1; do
        if [[ -n ${US_WAIT_ALIVE:-} ]] && ! eval "$US_WAIT_ALIVE" >/dev/null 2>&1; then
            us_fail_with_log "$what exited before it was ready" "$log"
        fi
        if ((SECONDS - start >= timeout)); then
            us_fail_with_log "$what was not ready after ${timeout}s" "$log"
        fi
        sleep 1
    done
}

us_fail_with_log() {
    local msg=$1 log=$2
    {
        printf '%suserstream: error:%s %s; its log: %s\n' "$US_R" "$US_0" "$msg" "$log"
        if [[ -f $log ]]; then
            echo "---- last lines of $log ----"
            tail -n 25 "$log"
            echo "----"
        fi
    } >&2
    exit 1
}

# us_secret NAME: prints the secret NAME, generating it (mode 0600) on first use.
us_secret() {
    local f=$US_SECRETS_DIR/$1
    if [[ ! -s $f ]]; then
        (umask 077 && mkdir -p "$US_SECRETS_DIR" && chmod 700 "$US_SECRETS_DIR")
        (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32 >"$f.tmp" && mv "$f.tmp" "$f")
    fi
    cat "$f"
}

# us_secret_write FILE: writes stdin to FILE (mode 0600, atomically), for a
# credentials file built from secrets; the directory is made 0700. A file that
# already holds exactly that is left alone: in containers the secrets volume is
# read-only to the services, and their init writes the same files again.
us_secret_write() {
    local f=$1 content
    content=$(cat && echo x)
    content=${content%x}
    if [[ -f $f ]] && printf '%s' "$content" | cmp -s - "$f"; then return 0; fi
    (umask 077 && mkdir -p "$(dirname "$f")" && printf '%s' "$content" >"$f.tmp" && mv "$f.tmp" "$f")
}

# us_port_free PORT: true when nothing listens on US_BIND:PORT.
us_port_free() {
    ! (exec 3<>"/dev/tcp/$US_BIND/$1") 2>/dev/null
}

# us_tcp_open HOST PORT: true when a TCP connection succeeds.
us_tcp_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# us_stack_pids: every process that belongs to this stack (US_HOME): those
# whose environment carries US_STACK_HOME=$US_HOME (supervisord and all it
# started) and their descendants (PostgreSQL's children overwrite theirs).
us_stack_pids() {
    local p marked=""
    for p in /proc/[0-9]*; do
        [[ ${p#/proc/} == "$$" || ${p#/proc/} == "$BASHPID" ]] && continue
        if grep -qzxF "US_STACK_HOME=$US_HOME" "$p/environ" 2>/dev/null; then
            marked+=" ${p#/proc/}"
        fi
    done
    [[ -n $marked ]] || return 0
    ps -e -o pid=,ppid= | awk -v roots="$marked" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
        { parent[$1] = $2 }
        END {
            do { changed = 0
                 for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 }
            } while (changed)
            for (p in keep) if (p in parent) print p
        }'
}

# us_rss_kb PID: resident memory of PID and all its descendants, in KiB
# (one snapshot of the process table, so a child that just exited is no error).
us_rss_kb() {
    { ps -e -o pid=,ppid=,rss= 2>/dev/null || true; } | awk -v root="$1" '
        { parent[$1] = $2; rss[$1] = $3 }
        END {
            keep[root] = 1
            do { changed = 0
                 for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 }
            } while (changed)
            for (p in keep) s += rss[p]
            print s + 0
        }'
}

us_human_kb() {
    awk -v k="$1" 'BEGIN { if (k >= 1048576) printf "%.1fG", k/1048576; else if (k >= 1024) printf "%dM", k/1024; else printf "%dK", k }'
}

# us_java: OpenJDK 17's java (never whatever `java` is first on PATH).
us_java() { "$JAVA_HOME/bin/java" "$@"; }
