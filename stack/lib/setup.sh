# stack/lib/setup.sh: installs what the stack needs, idempotently.
#
# Every step has a check mode (US_SETUP_CHECK=1): it only reports what is
# missing and fails if anything is. Without it, missing pieces are installed
# and present ones are only checked, so a second `setup` is fast.
# Installed engines live under $US_CACHE (outside the clone) and are keyed by
# a hash of what defines them (versions + POM), so a version bump installs the
# new one beside the old.

# --- Debian packages -------------------------------------------------------

us_apt_wanted() {
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$US_ROOT/stack/packages/apt.txt" | awk 'NF {print $1}'
}

us_apt_missing() {
    local p
    for p in $(us_apt_wanted); do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
    done
}

us_setup_apt() {
    local missing sudo=""
    missing=$(us_apt_missing | tr '\n' ' ')
    local n
    n=$(us_apt_wanted | wc -l)
    if [[ -z ${missing// /} ]]; then
        us_ok "Debian packages: all $n present"
        return 0
    fi
    if [[ -n ${US_SETUP_CHECK:-} ]]; then
        us_note "Debian packages missing: $missing"
        return 1
    fi
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    us_note "installing Debian packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -q >"$US_CACHE/logs/apt-update.log" 2>&1 ||
        us_fail_with_log "apt-get update failed" "$US_CACHE/logs/apt-update.log"
    # shellcheck disable=SC2086
    $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing \
        >"$US_CACHE/logs/apt-install.log" 2>&1 ||
        us_fail_with_log "apt-get install failed" "$US_CACHE/logs/apt-install.log"
    us_ok "Debian packages installed ($n wanted)"
}

# --- Python virtual environment -------------------------------------------

us_venv_stamp() {
    cat "$US_ROOT/stack/python/requirements.txt" "$US_ROOT/stack/python/constraints.txt" 2>/dev/null |
        sha256sum | cut -c1-16
}

us_setup_venv() {
    local want have="" py=/usr/bin/python3
    want=$(us_venv_stamp)
    [[ -f $US_VENV/.userstream-stamp ]] && have=$(cat "$US_VENV/.userstream-stamp")
    if [[ $want == "$have" && -x $US_VENV/bin/python ]]; then
        us_ok "Python venv: $US_VENV"
        return 0
    fi
    if [[ -n ${US_SETUP_CHECK:-} ]]; then
        us_note "Python venv missing or out of date: $US_VENV"
        return 1
    fi
    local start=$SECONDS log=$US_CACHE/logs/pip.log
    if [[ ! -x $US_VENV/bin/python ]]; then
        us_note "creating $US_VENV with $py"
        "$py" -m venv "$US_VENV" >"$log" 2>&1 || us_fail_with_log "python3 -m venv failed" "$log"
    fi
    local -a cons=()
    [[ -f $US_ROOT/stack/python/constraints.txt ]] && cons=(-c "$US_ROOT/stack/python/constraints.txt")
    us_note "installing Python packages (stack/python/requirements.txt, pinned by constraints.txt) ..."
    "$US_VENV/bin/pip" install --progress-bar off -r "$US_ROOT/stack/python/requirements.txt" "${cons[@]}" \
        >>"$log" 2>&1 || us_fail_with_log "pip install failed" "$log"
    echo "$want" >"$US_VENV/.userstream-stamp"
    us_ok "Python venv ready in $(us_elapsed $start): $US_VENV"
}

# --- JVM artifacts through Maven ------------------------------------------

# us_maven_props: every version pin as -D properties for the POMs.
us_maven_props() {
    printf '%s\n' \
        "-Dkafka.version=$KAFKA_VERSION" \
        "-Dlog4j.version=$KAFKA_LOG4J_VERSION" \
        "-Dcassandra.version=$CASSANDRA_VERSION" \
        "-Dapicurio.version=$APICURIO_VERSION" \
        "-Ddependency.plugin.version=$MAVEN_DEPENDENCY_PLUGIN_VERSION"
}

# us_engine_dir NAME: where engine NAME (stack/maven/NAME.xml) is installed.
us_engine_dir() {
    local h
    h=$( (cat "$US_ROOT/stack/maven/$1.xml"; us_maven_props) | sha256sum | cut -c1-12)
    echo "$US_CACHE/engines/$1-$h"
}

# us_setup_maven NAME GOAL LABEL: resolves stack/maven/NAME.xml with GOAL
# (copy-dependencies for a lib dir, unpack-dependencies for an application)
# into a fresh directory, then moves it into place in one step.
us_setup_maven() {
    local name=$1 goal=$2 label=$3 dir
    dir=$(us_engine_dir "$name")
    if [[ -f $dir/.complete ]]; then
        us_ok "$label: $dir"
        return 0
    fi
    if [[ -n ${US_SETUP_CHECK:-} ]]; then
        us_note "$label missing: $dir"
        return 1
    fi
    local start=$SECONDS log=$US_CACHE/logs/maven-$name.log tmp=$dir.tmp.$$
    local out=$tmp
    [[ $goal == copy-dependencies ]] && out=$tmp/lib
    us_note "fetching $label from Maven Central (log: $log) ..."
    mkdir -p "$tmp"
    # shellcheck disable=SC2046
    mvn -B -ntp -f "$US_ROOT/stack/maven/$name.xml" -Dmaven.repo.local="$US_CACHE/m2" \
        $(us_maven_props) "dependency:$goal" -DoutputDirectory="$out" -DincludeScope=runtime \
        -DmarkersDirectory="$tmp/.markers" -Dmdep.overWriteReleases=true >"$log" 2>&1 ||
        { rm -rf "$tmp"; us_fail_with_log "Maven could not fetch $label" "$log"; }
    rm -rf "$tmp/.markers"
    [[ -n $(ls -A "$tmp" | grep -v '^lib$') || -n $(ls -A "$out" 2>/dev/null) ]] ||
        { rm -rf "$tmp"; us_fail_with_log "Maven fetched nothing for $label" "$log"; }
    touch "$tmp/.complete"
    rm -rf "$dir" && mv "$tmp" "$dir"
    us_ok "$label in $(us_elapsed $start) ($(du -sh "$dir" | cut -f1)): $dir"
}

# --- all of it ---------------------------------------------------------------

us_setup() {
    local check=${US_SETUP_CHECK:-} rc=0 start=$SECONDS
    mkdir -p "$US_CACHE/logs"
    if [[ -n $check ]]; then us_step "Checking what is installed"; else us_step "Setting up (installs only what is missing)"; fi
    us_setup_apt || rc=1
    # Without Debian's tools nothing below can run; report and stop.
    if [[ $rc -ne 0 ]]; then return $rc; fi
    us_setup_venv || rc=1
    local f
    for f in "${US_SERVICE_FILES[@]}"; do
        local name
        name=$(us_service_name "$f")
        "svc_${name}_setup" || rc=1
    done
    if [[ $rc -eq 0 ]]; then
        us_ok "setup complete in $(us_elapsed $start)"
    elif [[ -n $check ]]; then
        us_note "run ./userstream setup to install what is missing"
    fi
    return $rc
}
