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
#
# One venv per content of stack/python/: $US_CACHE/venv-<us_venv_hash> (the
# default US_VENV, config.sh). A venv is never reinstalled in place: another
# worktree's stack may be running from it. Its stamp, written last, marks it
# complete; old venvs are kept (setup lists them, see us_venv_others).

us_setup_venv() {
    local want have="" py=/usr/bin/python3
    want=$(us_venv_hash)
    [[ -f $US_VENV/.userstream-stamp ]] && have=$(cat "$US_VENV/.userstream-stamp")
    if [[ $want == "$have" && -x $US_VENV/bin/python ]]; then
        us_ok "Python venv: $US_VENV"
        us_venv_others
        return 0
    fi
    if [[ -n $have ]]; then
        # Only a US_VENV named by the environment gets here: a derived one has its hash in its name.
        us_note "Python venv $US_VENV was installed for other stack/python/ files; it is not reinstalled in place (a stack may run from it): unset US_VENV to use $US_CACHE/venv-$want"
        [[ -n ${US_SETUP_CHECK:-} ]] && return 1
        us_die "US_VENV names a venv of other requirements"
    fi
    if [[ -n ${US_SETUP_CHECK:-} ]]; then
        us_note "Python venv missing: $US_VENV"
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
    us_venv_others
}

# us_venv_others: one line naming the other venvs of $US_CACHE (those of other
# requirements, and the unkeyed venv/ of older versions of this script), each
# marked whether a running process uses it now. Setup never deletes one.
us_venv_others() {
    local d list=""
    for d in "$US_CACHE"/venv "$US_CACHE"/venv-*; do
        [[ -d $d && $d != "$US_VENV" ]] || continue
        # The pattern comes from a file: on grep's own command line it would match itself.
        if grep -qasFf <(printf '%s/\n' "$d") /proc/[0-9]*/cmdline; then
            list+=" ${d##*/} (in use),"
        else
            list+=" ${d##*/} (unused now),"
        fi
    done
    [[ -n $list ]] || return 0
    us_note "other venvs kept in $US_CACHE:${list%,}; rm -rf one that no worktree's stack runs from to free its space"
}

# --- JVM artifacts through Maven ------------------------------------------

# us_maven_props: every pin of stack/versions.env as a -D property for the
# POMs, one a line, named by its key in lower case with . for _:
# KAFKA_VERSION -> -Dkafka.version, MAVEN_DEPENDENCY_PLUGIN_VERSION ->
# -Dmaven.dependency.plugin.version. A new pin needs no change here.
us_maven_props() {
    local key val
    while IFS=$'\t' read -r key val; do
        key=${key,,}
        printf -- '-D%s=%s\n' "${key//_/.}" "$val"
    done < <(us_conf_parse "$US_ROOT/stack/versions.env")
}

# us_maven_pom_props NAME: the properties of us_maven_props that
# stack/maven/NAME.xml uses, i.e. the pins its artifacts depend on; fails
# (naming it) on a property that no pin provides.
us_maven_pom_props() {
    local pom=$US_ROOT/stack/maven/$1.xml p line found all
    all=$(us_maven_props)
    for p in $(grep -o '\${[^}]*}' "$pom" | sort -u); do
        p=${p:2:-1}
        found=""
        while IFS= read -r line; do
            [[ $line == "-D$p="* ]] && { found=$line; break; }
        done <<<"$all"
        if [[ -z $found ]]; then
            p=${p^^}
            us_warn "$pom uses a property no pin provides: add ${p//./_}=... to stack/versions.env"
            return 1
        fi
        echo "$found"
    done
}

# us_engine_dir NAME: where engine NAME (stack/maven/NAME.xml) is installed,
# keyed by the POM and the pins it uses (a version bump installs beside the
# old one; a pin of another engine changes nothing here).
us_engine_dir() {
    local props h
    props=$(us_maven_pom_props "$1") || return 1
    h=$( (cat "$US_ROOT/stack/maven/$1.xml"; echo "$props") | sha256sum | cut -c1-12)
    echo "$US_CACHE/engines/$1-$h"
}

# us_setup_maven NAME GOAL LABEL [MAVEN ARGS...]: resolves stack/maven/NAME.xml
# with GOAL (copy-dependencies for a lib dir, unpack-dependencies for an
# application) and every pin as a property, plus MAVEN ARGS (e.g. the
# goal's -DexcludeArtifactIds=...), into a fresh directory, then moves it
# into place in one step.
us_setup_maven() {
    local name=$1 goal=$2 label=$3 dir
    shift 3
    dir=$(us_engine_dir "$name") || return 1
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
    local -a props
    mapfile -t props < <(us_maven_props)
    us_note "fetching $label from Maven Central (log: $log) ..."
    mkdir -p "$tmp"
    mvn -B -ntp -f "$US_ROOT/stack/maven/$name.xml" -Dmaven.repo.local="$US_CACHE/m2" \
        "${props[@]}" "dependency:$goal" -DoutputDirectory="$out" -DincludeScope=runtime \
        -DmarkersDirectory="$tmp/.markers" -Dmdep.overWriteReleases=true "$@" >"$log" 2>&1 ||
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
