# stack/lib/lifecycle.sh: the data lifecycle commands (docs/lifecycle.md):
# `forget` (erase one user everywhere), `purge` (staging retention, what the
# userstream_retention DAG runs) and `rebuild` (Cassandra from the compacted
# users topic). The SQL side is stack/sql/040_lifecycle.sql.

US_UUID_RE='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

# us_lc_psql ARGS: psql as the ops role (the functions are granted to it), quiet,
# stopping at the first error; the SQL comes on stdin.
us_lc_psql() {
    psql -h "$US_PG_HOST" -p "$US_PG_PORT" -U "${US_PG_OPS_USER:-ops}" -d "$US_PG_DATABASE" -w \
        -X -q -v ON_ERROR_STOP=1 "$@"
}

# us_kafka_topic_actual TOPIC: "key=value" lines of the topic's configuration as
# the broker has it (ConfigCommand --describe --all), the defaults included.
us_kafka_topic_actual() {
    us_kafka_admin_tool kafka.admin.ConfigCommand \
        --describe --all --entity-type topics --entity-name "$1" 2>/dev/null |
        sed -n 's/^ *\([a-z.]*\)=\([^ ]*\) sensitive=.*/\1=\2/p'
}

# us_lifecycle_conf_json: the configuration the erasure times are computed from,
# asked of the broker (not read from userstream.conf): a JSON object with
# users.<config> and dlq.<config>.
us_lifecycle_conf_json() {
    local prefix topic line out="" k v
    for prefix in users dlq; do
        [[ $prefix == users ]] && topic=$US_KAFKA_TOPIC_USERS || topic=$US_KAFKA_TOPIC_DLQ
        while IFS= read -r line; do
            k=${line%%=*} v=${line#*=}
            case $k in
                cleanup.policy | segment.ms | max.compaction.lag.ms | min.compaction.lag.ms | \
                    delete.retention.ms | retention.ms | min.cleanable.dirty.ratio) ;;
                *) continue ;;
            esac
            out+=${out:+,}"\"$prefix.$k\":\"$v\""
        done < <(us_kafka_topic_actual "$topic")
    done
    [[ -n $out ]] || us_die "could not read the configuration of Kafka topics $US_KAFKA_TOPIC_USERS and $US_KAFKA_TOPIC_DLQ"
    printf '{%s,"source":"broker %s","relay.slot":"%s"}\n' "$out" "$US_KAFKA_BOOTSTRAP" \
        "${US_RELAY_SLOT:-userstream_relay}"
}

us_forget_usage() {
    cat <<'EOF'
Usage: ./userstream forget [--by WHO] [--reason TEXT] [--wait SECONDS] USER_ID
       ./userstream forget --status USER_ID
Deletes the user from staging.users and staging.rejects (the delete flows to Kafka as a
tombstone and to Cassandra), writes an erasure record to ops.erasures, then waits (default
60 s) until Kafka and Cassandra are confirmed clean. --status updates and shows the records.
EOF
}

cmd_forget() {
    local user="" by="" reason="" wait=${US_FORGET_WAIT_S:-60} status=false
    while [[ $# -gt 0 ]]; do
        case $1 in
            --status) status=true ;;
            --by) by=${2:?--by needs a value}; shift ;;
            --reason) reason=${2:?--reason needs a value}; shift ;;
            --wait) wait=${2:?--wait needs seconds}; shift ;;
            -h | --help) us_forget_usage; return 0 ;;
            -*) us_forget_usage >&2; us_die "forget: unknown option $1" ;;
            *) [[ -z $user ]] || us_die "forget: one user id at a time"; user=$1 ;;
        esac
        shift
    done
    [[ $user =~ $US_UUID_RE ]] || { us_forget_usage >&2; us_die "forget: '$user' is not a user id (a uuid)"; }
    [[ $wait =~ ^[0-9]+$ ]] || us_die "forget: --wait takes seconds"
    if $status; then us_forget_show "$user"; return; fi
    [[ -n $by ]] || by="${SUDO_USER:-$(id -un)}@$(hostname) (./userstream forget)"
    local conf id
    conf=$(us_lifecycle_conf_json)
    id=$(us_lc_psql -At -v u="$user" -v by="$by" -v reason="$reason" -v conf="$conf" <<'SQL'
SELECT ops.forget_user(:'u'::uuid, :'by', NULLIF(:'reason', ''), :'conf'::jsonb);
SQL
    ) || us_die "forget: the erasure failed (nothing was changed)"
    us_ok "erasure $id of user $user recorded; staging is clean"
    us_forget_wait "$id" "$wait"
    us_forget_show "$user"
}

# us_forget_wait ID SECONDS: refreshes the record until Kafka and Cassandra are
# confirmed clean, or the time is up (the record says what is still pending).
us_forget_wait() {
    local id=$1 wait=$2 start=$SECONDS state
    while :; do
        state=$(us_lc_psql -At -F ' ' -v id="$id" -v slot="${US_RELAY_SLOT:-userstream_relay}" <<'SQL'
SELECT (r.kafka_tombstone_at IS NOT NULL)::int, (r.cassandra_clean_at IS NOT NULL)::int
FROM ops.erasure_refresh(:id, :'slot') r;
SQL
        ) || us_die "forget: could not refresh erasure $id"
        [[ $state == "1 1" ]] && { us_ok "Kafka has the tombstone; Cassandra is clean"; return 0; }
        ((SECONDS - start < wait)) || break
        sleep 2
    done
    us_note "still pending after ${wait}s (see ./userstream forget --status): relay/Spark job running?"
}

# us_forget_show USER: every erasure record of the user, refreshed first.
us_forget_show() {
    us_lc_psql -x -v u="$1" -v slot="${US_RELAY_SLOT:-userstream_relay}" <<'SQL'
SELECT count(ops.erasure_refresh(erasure_id, :'slot')) AS refreshed
FROM ops.erasures WHERE user_id = :'u'::uuid AND cassandra_clean_at IS NULL \gset
SELECT erasure_id, user_id, requested_by, requested_at, reason, staging_rows, reject_rows,
       commit_lsn, staging_clean_at, kafka_tombstone_at, spool_clean_at, cassandra_clean_at,
       kafka_compacted_by, kafka_tombstone_gone_by, dlq_expired_by,
       (SELECT count(*) FROM staging.users WHERE user_id = :'u'::uuid) AS in_staging_now
FROM ops.erasures WHERE user_id = :'u'::uuid ORDER BY erasure_id;
SQL
}

# `purge`: the staging retention, batch by batch (one transaction each) until
# nothing is due. What the userstream_retention DAG does, for the command line.
cmd_purge() {
    local retention=$US_STAGING_RETENTION batch=${US_STAGING_PURGE_BATCH:-5000} by="./userstream purge"
    while [[ $# -gt 0 ]]; do
        case $1 in
            --retention) retention=${2:?}; shift ;;
            --batch) batch=${2:?}; shift ;;
            *) us_die "usage: ./userstream purge [--retention INTERVAL] [--batch N]" ;;
        esac
        shift
    done
    [[ $batch =~ ^[1-9][0-9]*$ ]] || us_die "purge: --batch takes a positive number"
    local users=0 rejects=0 row u r start=$SECONDS
    while :; do
        row=$(us_lc_psql -At -F ' ' -v ret="$retention" -v n="$batch" -v by="$by" <<'SQL'
SELECT users, rejects FROM ops.staging_purge_batch(:'ret'::interval, :n, :'by');
SQL
        ) || us_die "purge: a batch failed (the batches before it are committed)"
        read -r u r <<<"$row"
        users=$((users + u)) rejects=$((rejects + r))
        ((u + r > 0)) || break
    done
    us_ok "staging purge (retention $retention): $users users, $rejects rejects in $(us_elapsed $start)"
}

# `rebuild`: replays the compacted users topic from its earliest offset into
# Cassandra with a fresh checkpoint (an available-now run of the Spark job in
# local mode, beside the live job; writes carry the change's LSN as their
# timestamp, so a replay never overwrites newer data). --truncate empties the
# users tables first (the aggregate signups_per_minute is left alone).
# --signup-keys only writes the sign-up keys onto the users rows from
# signup_events: what users written before cql migration 032 lack.
cmd_rebuild() {
    local truncate=false
    while [[ $# -gt 0 ]]; do
        case $1 in
            --truncate) truncate=true ;;
            --signup-keys)
                us_lc_restore_signup_keys "$(date -u +%Y%m%dT%H%M%SZ)"
                return
                ;;
            *) us_die "usage: ./userstream rebuild [--truncate | --signup-keys]" ;;
        esac
        shift
    done
    local stamp dir ks=$US_CASSANDRA_KEYSPACE start=$SECONDS t
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    dir=$US_HOME/spark/rebuild-$stamp
    if $truncate; then
        for t in users users_by_email_hash users_by_country; do
            "$US_VENV/bin/cqlsh" "$US_CASSANDRA_HOST" "$US_CASSANDRA_PORT" \
                --credentials "$US_CASSANDRA_ADMIN_CREDENTIALS" -e "TRUNCATE $ks.$t" ||
                us_die "rebuild: could not truncate $ks.$t"
        done
        us_ok "Cassandra $ks users tables truncated"
    fi
    us_step "Rebuilding $ks from $US_KAFKA_TOPIC_USERS (checkpoint $dir)"
    US_SPARK_CHECKPOINT_DIR=$dir US_SPARK_QUERY_PREFIX=rebuild-$stamp- \
        US_SPARK_DRIVER_UI_PORT=$((US_SPARK_DRIVER_UI_PORT + 1)) \
        "$US_ROOT/stack/spark/submit" --master "local[2]" --name userstream-rebuild \
        --driver-memory "${US_SPARK_DRIVER_MEMORY:-1g}" \
        "$US_ROOT/spark/job.py" --available-now \
        >"$US_LOG_DIR/rebuild-$stamp.log" 2>&1 ||
        us_fail_with_log "rebuild failed" "$US_LOG_DIR/rebuild-$stamp.log"
    # the users rows lost their sign-up keys with the truncate, and the compacted
    # topic has no insert left of a user updated since: restore them (docs/lifecycle.md)
    ! $truncate || us_lc_restore_signup_keys "$stamp"
    us_lc_psql -At -F ' ' -v q="rebuild-$stamp-users" <<'SQL' | {
SELECT coalesce(sum(input_rows), 0), coalesce(sum(upserts), 0), coalesce(sum(deletes), 0),
       coalesce(sum(duration_ms), 0)
FROM ops.stream_progress WHERE query_name = :'q';
SQL
        read -r rows ups dels ms
        us_ok "rebuild done in $(us_elapsed $start): $rows records, $ups users written, $dels deleted" \
            "($((ms > 0 ? ups * 1000 / ms : 0)) users/s in batches); log $US_LOG_DIR/rebuild-$stamp.log"
    }
    rm -rf "$dir" "$US_HOME/spark/rebuild-$stamp-job.ready"
}

# us_lc_restore_signup_keys STAMP: job.py --restore-signup-keys, a batch job in
# local mode beside the live job; its log goes to rebuild-STAMP.log.
us_lc_restore_signup_keys() {
    local stamp=$1 log=$US_LOG_DIR/rebuild-$1.log
    us_step "Writing the sign-up keys onto the users rows (from signup_events)"
    US_SPARK_QUERY_PREFIX=rebuild-$stamp- US_SPARK_DRIVER_UI_PORT=$((US_SPARK_DRIVER_UI_PORT + 1)) \
        "$US_ROOT/stack/spark/submit" --master "local[2]" --name userstream-rebuild-keys \
        --driver-memory "${US_SPARK_DRIVER_MEMORY:-1g}" \
        "$US_ROOT/spark/job.py" --restore-signup-keys >>"$log" 2>&1 ||
        us_fail_with_log "rebuild: restoring the sign-up keys failed" "$log"
    us_ok "sign-up keys restored on the users rows ($(sed -n 's/.*sign-up keys restored on \([0-9]*\) users rows.*/\1/p' \
        "$log" | tail -1) rows)"
}
