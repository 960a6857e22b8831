# Apache Kafka (KRaft: one process that is broker and controller, no
# ZooKeeper), from the jars Maven Central serves (stack/maven/kafka.xml).
#
# State in $US_HOME/kafka: data/ (log.dirs, formatted once with a cluster id
# kept in cluster.id) and config/ (rewritten from userstream.conf at every
# start). Logs go to stdout, i.e. $US_HOME/logs/kafka.log.
#
# Authentication and ACLs, on by default (docs/development.md, roles table):
# - the client listener takes SASL/SCRAM-SHA-512 and SASL/PLAIN; principals
#   admin (super user: `up`, the wrappers, tests), relay, spark, console, each
#   with one generated password for both mechanisms and a librdkafka properties
#   file (US_KAFKA_<P>_CLIENT_FILE, mode 0600; kcat -F reads it as it is).
#   Java and Python clients (Spark, tests, bench) use SCRAM-SHA-512. The
#   librdkafka programs (relay, kcat) use PLAIN: Debian 12's librdkafka 2.0.2
#   sends a SCRAM nonce that Kafka 4.x rejects ("invalid credentials"; fixed in
#   librdkafka 2.6.1, confluentinc/librdkafka#4895), so the files say PLAIN
#   until the system librdkafka is >= 2.6.1. PLAIN's password crosses loopback
#   TCP in clear; SCRAM's never does. Kafka's own tools and inter-broker
#   traffic use PLAIN as admin, which needs no SCRAM record: a fresh or an
#   older cluster starts without one, and post_start adds them as admin;
# - the controller listener (loopback) takes SASL/PLAIN with one static
#   principal, `controller` (SCRAM credentials live in the metadata log the
#   controller serves, so they cannot authenticate the controller itself);
# - StandardAuthorizer, allow.everyone.if.no.acl.found=false: a principal
#   can do only what an ACL of us_kafka_acls_apply grants. server.properties
#   holds the listeners' passwords: mode 0600.

US_KAFKA_DIR=$US_HOME/kafka

svc_kafka_group() { echo engine; }
svc_kafka_address() { echo "$US_KAFKA_BOOTSTRAP"; }
svc_kafka_ports() { echo "$US_KAFKA_PORT $US_KAFKA_CONTROLLER_PORT $(us_nonzero "$US_KAFKA_METRICS_PORT")"; }
svc_kafka_timeout() { echo 120; }
svc_kafka_version() { echo "$KAFKA_VERSION"; }

svc_kafka_setup() { us_setup_maven kafka copy-dependencies "Kafka $KAFKA_VERSION"; }

us_kafka_cp() { echo "$(us_engine_dir kafka)/lib/*"; }

# us_kafka_tool CLASS ARGS...: one of Kafka's command-line tools (the classes
# behind bin/kafka-*.sh), logging warnings only, to stderr.
us_kafka_tool() {
    us_java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j2.configurationFile="file:$US_KAFKA_DIR/config/tools-log4j2.properties" \
        -cp "$(us_kafka_cp)" "$@"
}

# The principals of the client listener (SCRAM users), "admin" first.
us_kafka_principals() { echo admin relay spark console; }

# us_kafka_client_file PRINCIPAL: path of its librdkafka properties file.
us_kafka_client_file() {
    case $1 in
        admin) echo "$US_KAFKA_ADMIN_CLIENT_FILE" ;;
        relay) echo "$US_KAFKA_RELAY_CLIENT_FILE" ;;
        spark) echo "$US_KAFKA_SPARK_CLIENT_FILE" ;;
        console) echo "$US_KAFKA_CONSOLE_CLIENT_FILE" ;;
        *) us_die "unknown Kafka principal $1" ;;
    esac
}

# Every client's credentials: librdkafka properties (kcat -F, the relay, the
# tests' helper, the Spark job's JAAS string), plus Java client properties
# for Kafka's own tools run as admin.
us_kafka_write_credentials() {
    local p
    for p in $(us_kafka_principals); do
        printf '%s\n' security.protocol=SASL_PLAINTEXT sasl.mechanisms=PLAIN \
            "sasl.username=$p" "sasl.password=$(us_secret "kafka-$p")" |
            us_secret_write "$(us_kafka_client_file "$p")"
    done
    printf '%s\n' security.protocol=SASL_PLAINTEXT sasl.mechanism=PLAIN \
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"$(us_secret kafka-admin)\";" |
        us_secret_write "$US_KAFKA_DIR/config/admin-client.properties"
}

svc_kafka_init() {
    mkdir -p "$US_KAFKA_DIR/config" "$US_KAFKA_DIR/data"
    us_kafka_write_credentials
    us_kafka_write_config
    us_jmx_exporter_config kafka >"$US_KAFKA_DIR/config/jmx-exporter.yaml"
    if [[ ! -s $US_KAFKA_DIR/cluster.id && -n ${US_KAFKA_CLUSTER_ID:-} ]]; then
        echo "$US_KAFKA_CLUSTER_ID" >"$US_KAFKA_DIR/cluster.id"
    elif [[ ! -s $US_KAFKA_DIR/cluster.id ]]; then
        us_kafka_tool kafka.tools.StorageTool random-uuid >"$US_KAFKA_DIR/cluster.id.tmp" &&
            mv "$US_KAFKA_DIR/cluster.id.tmp" "$US_KAFKA_DIR/cluster.id" ||
            us_die "Kafka: could not make a cluster id"
    fi
    [[ -f $US_KAFKA_DIR/data/meta.properties ]] || us_kafka_format
}

# us_kafka_format: the storage, formatted once. Alone (no voters configured)
# the node is a standalone controller quorum (a dynamic quorum of one); with
# US_KAFKA_CONTROLLER_VOTERS the quorum is that static list (a cluster: every
# node formatted with the same cluster id, US_KAFKA_CLUSTER_ID).
us_kafka_format() {
    local -a quorum=(--standalone)
    local voters=${US_KAFKA_CONTROLLER_VOTERS:-}
    [[ -n $voters ]] && quorum=()
    us_note "formatting Kafka storage (KRaft, controller quorum: ${voters:-this node, standalone})"
    us_kafka_tool kafka.tools.StorageTool format "${quorum[@]}" --ignore-formatted \
        -t "$(cat "$US_KAFKA_DIR/cluster.id")" -c "$US_KAFKA_DIR/config/server.properties" \
        >"$US_LOG_DIR/kafka-format.log" 2>&1 ||
        us_fail_with_log "Kafka storage format failed" "$US_LOG_DIR/kafka-format.log"
}

# us_kafka_quorum_config: how the node finds the controller quorum: itself
# (standalone), or the static voters of a cluster.
us_kafka_quorum_config() {
    if [[ -n ${US_KAFKA_CONTROLLER_VOTERS:-} ]]; then
        echo "controller.quorum.voters=$US_KAFKA_CONTROLLER_VOTERS"
    else
        echo "controller.quorum.bootstrap.servers=$US_KAFKA_ADVERTISED_HOST:$US_KAFKA_CONTROLLER_PORT"
    fi
}

us_kafka_write_config() {
    local b=$US_BIND a=$US_KAFKA_ADVERTISED_HOST cpw apw p users=""
    local rf=$US_KAFKA_REPLICATION_FACTOR isr=$US_KAFKA_MIN_INSYNC_REPLICAS
    cpw=$(us_secret kafka-controller)
    apw=$(us_secret kafka-admin)
    for p in $(us_kafka_principals); do users+=" user_$p=\"$(us_secret "kafka-$p")\""; done
    us_secret_write "$US_KAFKA_DIR/config/server.properties" <<EOF
# generated by ./userstream from userstream.conf; edits are overwritten
process.roles=broker,controller
node.id=$US_KAFKA_NODE_ID
$(us_kafka_quorum_config)
listeners=CLIENT://$b:$US_KAFKA_PORT,CONTROLLER://$b:$US_KAFKA_CONTROLLER_PORT
advertised.listeners=CLIENT://$a:$US_KAFKA_PORT,CONTROLLER://$a:$US_KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$apw"$users;
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$cpw" user_controller="$cpw";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:controller
allow.everyone.if.no.acl.found=false
log.dirs=$US_KAFKA_DIR/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
# Topics are created by ./userstream up from userstream.conf, never by accident.
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
    # log4j2 in the properties format: needs nothing beyond log4j-core.
    cat >"$US_KAFKA_DIR/config/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.controller.name = org.apache.kafka.controller
logger.controller.level = info
EOF
    cat >"$US_KAFKA_DIR/config/tools-log4j2.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# The Prometheus JMX exporter agent (stack/services/95-prometheus.sh) serves
# the broker's MBeans on US_KAFKA_METRICS_PORT (0: no agent).
svc_kafka_run() {
    local agent
    agent=$(us_jmx_exporter_opt "$US_KAFKA_METRICS_PORT" "$US_KAFKA_DIR/config/jmx-exporter.yaml")
    exec "$JAVA_HOME/bin/java" -Xms"$US_KAFKA_HEAP" -Xmx"$US_KAFKA_HEAP" -server ${agent:+"$agent"} \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
        -Dkafka.logs.dir="$US_LOG_DIR" \
        -Dlog4j2.configurationFile="file:$US_KAFKA_DIR/config/log4j2.properties" \
        -cp "$(us_kafka_cp)" kafka.Kafka "$US_KAFKA_DIR/config/server.properties"
}

# Ready = a metadata request over the Kafka protocol (librdkafka's kcat)
# answered by this node, listing as many brokers as a topic's replicas
# (US_KAFKA_REPLICATION_FACTOR; one alone): topics can then be created.
svc_kafka_ready() {
    local meta n
    meta=$(kcat -F "$US_KAFKA_ADMIN_CLIENT_FILE" -b "$US_BIND:$US_KAFKA_PORT" -L -m 5 2>/dev/null) || return 1
    n=$(sed -n 's/^ *\([0-9]*\) brokers:.*/\1/p' <<<"$meta" | head -n 1)
    [[ -n $n ]] && ((n >= US_KAFKA_REPLICATION_FACTOR))
}

# us_kafka_topics_wanted: "topic partitions" for each US_KAFKA_TOPIC_<X> in
# the configuration; partitions from US_KAFKA_<X>_PARTITIONS (default 1).
us_kafka_topics_wanted() {
    local key x parts
    for key in $(compgen -e | grep -E '^US_KAFKA_TOPIC_[A-Z0-9_]+$'); do
        x=${key#US_KAFKA_TOPIC_}
        parts=US_KAFKA_${x}_PARTITIONS
        echo "${!key} ${!parts:-1}"
    done
}

svc_kafka_post_start() {
    local existing topic parts n=0
    existing=$(kcat -F "$US_KAFKA_ADMIN_CLIENT_FILE" -b "$US_KAFKA_BOOTSTRAP" -L -m 10 2>/dev/null | sed -n 's/^ *topic "\([^"]*\)".*/\1/p')
    while read -r topic parts; do
        grep -qxF "$topic" <<<"$existing" && continue
        us_kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$US_KAFKA_BOOTSTRAP" \
            --command-config "$US_KAFKA_DIR/config/admin-client.properties" --create --if-not-exists --topic "$topic" --partitions "$parts" --replication-factor "$US_KAFKA_REPLICATION_FACTOR" \
            >"$US_LOG_DIR/kafka-topics.log" 2>&1 ||
            us_fail_with_log "could not create Kafka topic $topic" "$US_LOG_DIR/kafka-topics.log"
        n=$((n + 1))
    done < <(us_kafka_topics_wanted)
    us_kafka_topic_configs_apply
    us_ok "Kafka topics: $n created, $(us_kafka_topics_wanted | wc -l) configured"
    us_kafka_auth_apply
}

# Credentials and ACLs cost a dozen JVM starts: applied again only when the
# passwords, the topics or the functions that apply them changed (the mark
# holds a digest of them, never a password).
us_kafka_auth_apply() {
    local mark=$US_KAFKA_DIR/auth.applied digest p
    digest=$({
        for p in $(us_kafka_principals); do echo "$p $(us_secret "kafka-$p")"; done
        echo "$US_KAFKA_TOPIC_USERS $US_KAFKA_TOPIC_DLQ $(cat "$US_KAFKA_DIR/cluster.id")"
        declare -f us_kafka_users_apply us_kafka_acls_apply
    } | sha256sum | cut -c1-64)
    if [[ -f $mark && $(cat "$mark") == "$digest" ]]; then
        us_ok "Kafka SCRAM users and ACLs unchanged"
        return 0
    fi
    us_kafka_users_apply
    us_kafka_acls_apply
    echo "$digest" >"$mark"
}

# us_kafka_admin_tool CLASS ARGS...: a Kafka tool as the admin principal.
us_kafka_admin_tool() {
    local cls=$1
    shift
    us_kafka_tool "$cls" --bootstrap-server "$US_KAFKA_BOOTSTRAP" \
        --command-config "$US_KAFKA_DIR/config/admin-client.properties" "$@"
}

# SCRAM credentials of every principal, (re)set from the secrets on every
# `up`; the passwords go in a file (--add-config-file), not on a command line.
us_kafka_users_apply() {
    local p f=$US_KAFKA_DIR/config/scram.tmp log=$US_LOG_DIR/kafka-users.log
    : >"$log"
    for p in $(us_kafka_principals); do
        # A properties file: no brackets around the value (as on the command line).
        printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$(us_secret "kafka-$p")" | us_secret_write "$f"
        us_kafka_admin_tool kafka.admin.ConfigCommand --alter --entity-type users \
            --entity-name "$p" --add-config-file "$f" >>"$log" 2>&1 ||
            { rm -f "$f"; us_fail_with_log "could not set the Kafka SCRAM credentials of $p" "$log"; }
    done
    rm -f "$f"
    us_ok "Kafka SCRAM users: $(us_kafka_principals | tr ' ' ',')"
}

# The ACLs: the relay alone writes the users topic (idempotently; it reads
# the last record of each partition at start, for its duplicate count); the Spark
# job reads it in its own consumer groups and writes the dead-letter topic;
# the console (userstream-console, `./userstream counts`) only reads: it
# describes every topic, group and config and the cluster (its Kafka page),
# reads any topic (the message browser) and uses consumer groups named
# userstream-console* only to assign partitions (it never commits). It can
# write nothing and join no other group. Adding an ACL twice is a no-op.
us_kafka_acls_apply() {
    local log=$US_LOG_DIR/kafka-acls.log t=$US_KAFKA_TOPIC_USERS d=$US_KAFKA_TOPIC_DLQ
    local -a acl=(us_kafka_admin_tool org.apache.kafka.tools.AclCommand --add --force)
    {
        "${acl[@]}" --allow-principal User:relay --operation Write --operation Read --operation Describe --topic "$t" &&
            "${acl[@]}" --allow-principal User:relay --operation IdempotentWrite --cluster &&
            "${acl[@]}" --allow-principal User:spark --operation Read --operation Describe --topic "$t" &&
            "${acl[@]}" --allow-principal User:spark --operation Write --operation Describe --topic "$d" &&
            "${acl[@]}" --allow-principal User:spark --operation IdempotentWrite --cluster &&
            "${acl[@]}" --allow-principal User:spark --operation Read --operation Describe \
                --group spark-kafka- --resource-pattern-type prefixed &&
            "${acl[@]}" --allow-principal User:console --operation Read --operation Describe \
                --operation DescribeConfigs --topic '*' &&
            "${acl[@]}" --allow-principal User:console --operation Describe --group '*' &&
            "${acl[@]}" --allow-principal User:console --operation Read \
                --group userstream-console --resource-pattern-type prefixed &&
            "${acl[@]}" --allow-principal User:console --operation Describe --operation DescribeConfigs --cluster
    } >"$log" 2>&1 || us_fail_with_log "could not set the Kafka ACLs" "$log"
    us_ok "Kafka ACLs: relay writes $t; spark reads it and writes $d; console reads and describes"
}

# us_kafka_topic_config X: the topic configs of US_KAFKA_TOPIC_<X> that
# userstream.conf sets (section "Data lifecycle"), as ConfigCommand's
# --add-config list ("" = none). A value with a comma is bracketed.
us_kafka_topic_config() {
    local x=$1 key cfg out="" val
    for cfg in cleanup.policy segment.ms max.compaction.lag.ms min.compaction.lag.ms \
        min.cleanable.dirty.ratio delete.retention.ms retention.ms retention.bytes; do
        key=US_KAFKA_${x}_$(tr 'a-z.' 'A-Z_' <<<"$cfg")
        val=${!key:-}
        [[ -n $val ]] || continue
        [[ $val == *,* ]] && val="[$val]"
        out+=${out:+,}$cfg=$val
    done
    echo "$out"
}

# Applies those configs on every `up` (idempotent: alter sets the same value
# again), so a changed retention in userstream.conf reaches existing topics.
us_kafka_topic_configs_apply() {
    local key x topic cfg
    for key in $(compgen -e | grep -E '^US_KAFKA_TOPIC_[A-Z0-9_]+$'); do
        x=${key#US_KAFKA_TOPIC_}
        topic=${!key}
        cfg=$(us_kafka_topic_config "$x")
        [[ -n $cfg ]] || continue
        us_kafka_admin_tool kafka.admin.ConfigCommand \
            --alter --entity-type topics --entity-name "$topic" --add-config "$cfg" \
            >"$US_LOG_DIR/kafka-configs.log" 2>&1 ||
            us_fail_with_log "could not configure Kafka topic $topic ($cfg)" "$US_LOG_DIR/kafka-configs.log"
        us_note "topic $topic: $cfg"
    done
}
