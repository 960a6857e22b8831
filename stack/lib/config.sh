# stack/lib/config.sh: the effective configuration of the local stack.
#
# Layers, later wins: userstream.conf (or the file named by US_CONFIG) ->
# environment (an empty variable counts as unset) -> derived values. The same
# rules as src/common/us_config.c, so bash, C and Python agree on every value.
#
# US_PORT_OFFSET is added to every *_PORT read from the file; a port given in
# the environment is taken as it is. So `./userstream env` prints final ports,
# and feeding that output back as environment (tests, programs) does not shift
# them twice. Derived values (US_KAFKA_BOOTSTRAP, ...) are computed only when
# the environment does not set them, so they can point at real clusters.

# Keys known to come from the environment (non-empty at start), as " KEY ".
US_ENV_KEYS=""

# us_conf_parse FILE: prints KEY<TAB>value for each assignment; dies on a
# malformed line with path:line. The file syntax, the same in C
# (src/common/us_config.c) and the rules docs/development.md states:
#   blank lines and lines starting with '#' are skipped;
#   KEY=value, KEY = [A-Za-z_][A-Za-z0-9_]*, whitespace around both trimmed;
#   an unquoted value ends at ' #' (whitespace then '#'): a trailing comment;
#   "value" or 'value': the text between the quotes, no escapes, then only
#   whitespace or a trailing comment;
#   '${' is refused (no expansion: a value that follows another value is a
#   derived value, computed by ./userstream and the programs);
#   a leading ~/ becomes $HOME/.
us_conf_parse() {
    local file=$1 line n=0 key val rest q
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        line=${line#"${line%%[![:space:]]*}"}
        [[ -z $line || $line == \#* ]] && continue
        if [[ ! $line =~ ^([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=(.*)$ ]]; then
            us_die "$file:$n: expected KEY=value"
        fi
        key=${BASH_REMATCH[1]}
        val=${BASH_REMATCH[2]}
        [[ $val == [[:space:]]*\#* && ${val%%\#*} != *[![:space:]]* ]] && val=
        val=${val#"${val%%[![:space:]]*}"}
        if [[ $val == [\"\']* ]]; then
            q=${val:0:1}
            rest=${val:1}
            [[ $rest == *"$q"* ]] || us_die "$file:$n: unterminated quote in value of $key"
            val=${rest%%"$q"*}
            rest=${rest#*"$q"}
            [[ $rest =~ ^([[:space:]]+#.*)?[[:space:]]*$ ]] ||
                us_die "$file:$n: text after the closing quote in value of $key"
        else
            val=${val%%[[:space:]]#*}
            val=${val%"${val##*[![:space:]]}"}
        fi
        [[ $val == *'${'* ]] && us_die "$file:$n: \${...} is not expanded; remove it from the value of $key"
        [[ $val == "~/"* ]] && val=$HOME/${val#\~/}
        printf '%s\t%s\n' "$key" "$val"
    done <"$file"
}

# us_config_load: exports every effective US_* value (and PGPASSFILE,
# JAVA_HOME) into the environment of this script and its children.
us_config_load() {
    local conf=${US_CONFIG:-$US_ROOT/userstream.conf}
    [[ -f $conf ]] || us_die "configuration file not found: $conf"
    conf=$(cd "$(dirname "$conf")" && pwd)/$(basename "$conf")
    export US_CONFIG=$conf

    local key val
    US_ENV_KEYS=" "
    while IFS= read -r key; do
        [[ -n ${!key:-} ]] && US_ENV_KEYS+="$key "
    done < <(compgen -e | grep -E '^(US_|PGPASSFILE$)' || true)

    US_CONF_KEYS=()
    local -a file_ports=()
    local parsed
    parsed=$(us_conf_parse "$conf") || exit 1 # us_die has said which line
    while IFS=$'\t' read -r key val; do
        [[ -n $key ]] || continue
        US_CONF_KEYS+=("$key")
        if [[ $US_ENV_KEYS != *" $key "* ]]; then
            printf -v "$key" '%s' "$val"
            export "${key?}"
            [[ $key == *_PORT ]] && file_ports+=("$key")
        fi
    done <<<"$parsed"

    : "${US_PORT_OFFSET:=0}"
    [[ $US_PORT_OFFSET =~ ^[0-9]+$ ]] || us_die "US_PORT_OFFSET must be a number, not '$US_PORT_OFFSET'"
    for key in "${file_ports[@]}"; do
        [[ ${!key} =~ ^[0-9]+$ ]] || us_die "$key must be a number, not '${!key}'"
        # 0 means "off" or "any free port": it stays 0 (as in us_config.c)
        [[ ${!key} =~ ^0+$ ]] || printf -v "$key" '%s' $((10#${!key} + US_PORT_OFFSET))
    done

    : "${US_HOME:=$HOME/.local/state/userstream}" "${US_CACHE:=$HOME/.cache/userstream}"
    : "${US_BIND:=127.0.0.1}"
    us_derive US_PG_HOST "$US_BIND"
    us_derive US_PG_CLIENTS "$US_BIND/32"
    us_derive US_KAFKA_ADVERTISED_HOST "$US_BIND"
    us_derive US_KAFKA_BOOTSTRAP "$US_BIND:$US_KAFKA_PORT"
    us_derive US_REGISTRY_URL "http://$US_BIND:$US_REGISTRY_PORT/apis/ccompat/v7"
    us_derive US_REGISTRY_SUBJECT "$US_KAFKA_TOPIC_USERS-value"
    us_derive US_CASSANDRA_HOST "$US_BIND"
    us_derive US_SOURCE_URL "http://$US_BIND:$US_SOURCE_PORT/api/1.4/"
    us_derive US_SOURCE_HOST "$US_BIND"
    us_derive US_RELAY_HOST "$US_BIND"
    us_derive US_SPARK_MASTER_URL "spark://$US_BIND:$US_SPARK_MASTER_PORT"
    us_derive US_AIRFLOW_URL "http://$US_BIND:$US_AIRFLOW_PORT"
    us_derive US_SECRETS_DIR "$US_HOME/secrets"
    us_derive US_LOG_DIR "$US_HOME/logs"
    # The venv is keyed by what defines it, as the engines are: worktrees with
    # different requirements get different venvs, never one reinstalled in place.
    # (A running stack keeps the venv it started from: us_venv_use_stack.)
    [[ $US_ENV_KEYS == *" US_VENV "* ]] || us_derive US_VENV "$US_CACHE/venv-$(us_venv_hash)"
    us_derive PGPASSFILE "$US_SECRETS_DIR/pgpass"
    # PostgreSQL roles, one per part (least privilege; see docs/development.md).
    us_derive US_PG_ADMIN_USER postgres
    us_derive US_PG_LOADER_USER loader
    us_derive US_PG_RELAY_USER relay
    us_derive US_PG_AIRFLOW_USER airflow
    us_derive US_PG_REGISTRY_USER registry
    us_derive US_PG_OPS_USER ops
    us_derive US_PG_AIRFLOW_DATABASE airflow
    us_derive US_PG_REGISTRY_DATABASE registry
    # Credentials of each engine client (generated by `up`, mode 0600; the
    # roles and secrets table of docs/development.md says who holds which).
    us_derive US_KAFKA_ADMIN_CLIENT_FILE "$US_SECRETS_DIR/kafka-admin.properties"
    us_derive US_KAFKA_RELAY_CLIENT_FILE "$US_SECRETS_DIR/kafka-relay.properties"
    us_derive US_KAFKA_SPARK_CLIENT_FILE "$US_SECRETS_DIR/kafka-spark.properties"
    us_derive US_KAFKA_CONSOLE_CLIENT_FILE "$US_SECRETS_DIR/kafka-console.properties"
    us_derive US_REGISTRY_ADMIN_CREDENTIALS "$US_SECRETS_DIR/registry-admin.userpwd"
    us_derive US_REGISTRY_RELAY_CREDENTIALS "$US_SECRETS_DIR/registry-relay.userpwd"
    us_derive US_REGISTRY_CONSOLE_CREDENTIALS "$US_SECRETS_DIR/registry-console.userpwd"
    us_derive US_CASSANDRA_ADMIN_CREDENTIALS "$US_SECRETS_DIR/cassandra-admin.credentials"
    us_derive US_CASSANDRA_WRITER_CREDENTIALS "$US_SECRETS_DIR/cassandra-writer.credentials"
    us_derive US_CASSANDRA_READER_CREDENTIALS "$US_SECRETS_DIR/cassandra-reader.credentials"
    us_derive US_CASSANDRA_RECONCILER_CREDENTIALS "$US_SECRETS_DIR/cassandra-reconciler.credentials"
    us_derive US_ROOT "$US_ROOT"
    # The Spark job's paths and role follow the values above.
    us_derive US_SPARK_PII_KEY_FILE "$US_SECRETS_DIR/pii_hmac_key"
    us_derive US_CONSOLE_PASSWORD_FILE "$US_SECRETS_DIR/console-password"
    us_derive US_SPARK_CHECKPOINT_DIR "$US_HOME/spark/checkpoints"
    us_derive US_SPARK_PG_USER "$US_PG_OPS_USER"
    # Marks an environment that holds this whole effective configuration (every
    # process ./userstream starts, or `env` output fed back): Python takes it as
    # it is (stack/lib/us_config.py).
    export US_CONFIG_EFFECTIVE=1

    # Every JVM engine runs on OpenJDK 17, whatever else is installed.
    us_versions_load
    export JAVA_HOME=$JAVA_HOME_17
}

# us_venv_hash: 12 hex digits of what defines the Python venv: the lines of
# stack/python/requirements.txt + constraints.txt that pip reads (comments and
# blank lines dropped, so a changed comment does not cost a new venv).
us_venv_hash() {
    cat "$US_ROOT/stack/python/requirements.txt" "$US_ROOT/stack/python/constraints.txt" 2>/dev/null |
        sed -E -e 's/(^|[[:space:]])#.*//' -e 's/^[[:space:]]+//' -e 's/[[:space:]]+$//' -e '/^$/d' |
        sha256sum | cut -c1-12
}

# us_derive KEY VALUE: sets and exports KEY unless the environment or the file
# set it (a derived value written in userstream.conf is taken as it is).
us_derive() {
    if [[ $US_ENV_KEYS != *" $1 "* && " ${US_CONF_KEYS[*]} " != *" $1 "* ]]; then
        printf -v "$1" '%s' "$2"
    fi
    export "${1?}"
}

# us_versions_load: the version pins (stack/versions.env), exported.
us_versions_load() {
    local key val
    while IFS=$'\t' read -r key val; do
        printf -v "$key" '%s' "$val"
        export "${key?}"
    done < <(us_conf_parse "$US_ROOT/stack/versions.env")
}

# us_config_keys: every effective key, sorted, for `env`.
us_config_keys() {
    compgen -e | grep -E '^(US_[A-Z0-9_]+|PGPASSFILE|JAVA_HOME)$' | sort
}

# us_config_print: KEY=value lines, valid as a userstream.conf; values that need
# it are single-quoted. Never a password: those live only in $US_SECRETS_DIR.
us_config_print() {
    local key val
    for key in $(us_config_keys); do
        [[ $key =~ (PASSWORD|SECRET|TOKEN)$ ]] && continue
        val=${!key}
        if [[ $val =~ ^[A-Za-z0-9_./:,@%+=-]*$ ]]; then
            printf '%s=%s\n' "$key" "$val"
        elif [[ $val != *\'* ]]; then
            printf "%s='%s'\n" "$key" "$val"
        else
            # no escapes in the file syntax: double quotes, for values without $ ` \ "
            [[ $val != *[\"\$\`\\]* ]] || us_die "$key: a value with both kinds of quotes (or \$, \`, \\) cannot be printed"
            printf '%s="%s"\n' "$key" "$val"
        fi
    done
}
