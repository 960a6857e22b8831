# Apache Spark standalone master, from the pyspark wheel in the venv (no Spark
# tarball: the wheel carries the jars and bin/spark-class). Also owns the
# connector jars every Spark job of the pipeline passes with --jars (setup).
#
# The pyspark wheel ships only part of sbin/ (no start-master.sh), so the
# master runs as `spark-class org.apache.spark.deploy.master.Master`, which
# execs the JVM: supervisord signals Java itself. SPARK_LOCAL_IP pins every
# listener (RPC, UI) to US_BIND.

svc_spark_master_group() { echo engine; }
svc_spark_master_address() { echo "$US_SPARK_MASTER_URL"; }
svc_spark_master_ports() { echo "$US_SPARK_MASTER_PORT $US_SPARK_MASTER_UI_PORT"; }
svc_spark_master_timeout() { echo 90; }
svc_spark_master_version() { echo "$SPARK_VERSION"; }

# us_spark_home: the pyspark package directory of the venv (= SPARK_HOME).
us_spark_home() {
    local d
    for d in "$US_VENV"/lib/python3*/site-packages/pyspark; do
        [[ -x $d/bin/spark-class ]] && { echo "$d"; return 0; }
    done
    return 1
}

# us_spark_env: the environment every Spark process of the stack runs with.
us_spark_env() {
    SPARK_HOME=$(us_spark_home) || us_die "pyspark is not installed in $US_VENV (./userstream setup)"
    export SPARK_HOME JAVA_HOME=$JAVA_HOME_17
    export SPARK_LOCAL_IP=$US_BIND SPARK_LOCAL_HOSTNAME=$US_BIND
    export SPARK_CONF_DIR=$US_HOME/spark/conf SPARK_LOG_DIR=$US_LOG_DIR
    export SPARK_DAEMON_MEMORY=${US_SPARK_DAEMON_MEMORY:-256m}
    export PYSPARK_PYTHON=$US_VENV/bin/python PYSPARK_DRIVER_PYTHON=$US_VENV/bin/python
}

# --- the connector jars --------------------------------------------------------

# us_spark_jars_dir: where the jars of stack/maven/spark-jars.xml live, keyed
# like every engine by the POM and the pins it uses.
us_spark_jars_dir() { us_engine_dir spark-jars; }

# us_spark_jars: the comma-separated list for spark-submit --jars.
us_spark_jars() {
    local dir
    dir=$(us_spark_jars_dir)
    [[ -f $dir/.complete ]] || us_die "Spark connector jars missing in $dir (./userstream setup)"
    find "$dir/lib" -name '*.jar' | sort | paste -sd,
}

# Copies the connectors and their runtime dependencies, except every artifact
# that pyspark/jars already has (Scala, Hadoop client, slf4j, lz4, ...): two
# versions of one library on a classpath is how NoSuchMethodError starts.
us_spark_setup_jars() {
    local excl
    excl=$(find "$(us_spark_home)/jars" -name '*.jar' -printf '%f\n' |
        sed -E 's/-[0-9][^-]*(-[^-]+)*\.jar$//' | sort -u | paste -sd,)
    us_setup_maven spark-jars copy-dependencies "Spark connector jars" -DexcludeArtifactIds="$excl"
}

svc_spark_master_setup() {
    local home have
    if ! home=$(us_spark_home); then
        us_note "pyspark missing in $US_VENV (stack/python/requirements.txt)"
        return 1
    fi
    have=$(sed -nE "s/^__version__[^'\"]*['\"]([^'\"]+)['\"].*/\1/p" "$home/version.py")
    [[ $have == "$SPARK_VERSION" ]] ||
        us_die "pyspark $have in $US_VENV but stack/versions.env pins Spark $SPARK_VERSION: make stack/python/requirements.txt agree"
    us_ok "Spark $have (pyspark): $home"
    us_spark_setup_jars
}

svc_spark_master_init() {
    mkdir -p "$US_HOME/spark/conf" "$US_HOME/spark/work"
}

svc_spark_master_run() {
    us_spark_env
    exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
        --host "$US_BIND" --port "$US_SPARK_MASTER_PORT" --webui-port "$US_SPARK_MASTER_UI_PORT"
}

# us_spark_master_json: the master's state document (its web UI's /json/), on
# the host of US_SPARK_MASTER_URL (US_BIND locally; the master's container in deploy/).
us_spark_master_json() {
    local host=${US_SPARK_MASTER_URL#spark://}
    curl -fsS --max-time 5 "http://${host%:*}:$US_SPARK_MASTER_UI_PORT/json/"
}

# Ready = the master answers /json/ and says it is the ALIVE (leading) master.
svc_spark_master_ready() {
    us_spark_master_json | "$US_VENV/bin/python" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin).get("status") == "ALIVE" else 1)'
}
