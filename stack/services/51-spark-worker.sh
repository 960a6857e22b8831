# Apache Spark standalone worker (one), registered with the master of
# 50-spark-master.sh. Small on purpose (US_SPARK_WORKER_CORES/_MEMORY): the
# stack shares two cores with every other engine.

svc_spark_worker_group() { echo engine; }
svc_spark_worker_address() { echo "$US_BIND:$US_SPARK_WORKER_PORT"; }
svc_spark_worker_ports() { echo "$US_SPARK_WORKER_PORT $US_SPARK_WORKER_UI_PORT"; }
svc_spark_worker_timeout() { echo 90; }
svc_spark_worker_version() { echo "$SPARK_VERSION"; }

# Installed by svc_spark_master_setup (same pyspark, same jars).
svc_spark_worker_setup() { return 0; }

svc_spark_worker_run() {
    us_spark_env
    # Finished applications' work dirs (jars, logs) are removed after a day.
    export SPARK_WORKER_OPTS="-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400"
    exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
        --host "$US_BIND" --port "$US_SPARK_WORKER_PORT" --webui-port "$US_SPARK_WORKER_UI_PORT" \
        --cores "${US_SPARK_WORKER_CORES:-2}" --memory "${US_SPARK_WORKER_MEMORY:-2g}" \
        --work-dir "$US_HOME/spark/work" "$US_SPARK_MASTER_URL"
}

# Ready = the master lists this worker (US_BIND:US_SPARK_WORKER_PORT) as ALIVE.
svc_spark_worker_ready() {
    us_spark_master_json | US_W="$US_BIND:$US_SPARK_WORKER_PORT" "$US_VENV/bin/python" -c '
import json, os, sys
doc = json.load(sys.stdin)
me = os.environ["US_W"]
alive = [w for w in doc.get("workers", []) if w.get("state") == "ALIVE"
         and "%s:%s" % (w.get("host"), w.get("port")) == me]
sys.exit(0 if doc.get("status") == "ALIVE" and alive else 1)'
}
