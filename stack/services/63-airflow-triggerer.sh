# Apache Airflow 3 triggerer: runs the triggers of deferred tasks (asyncio).
# Configuration and secrets: us_airflow_env in 60-airflow-api-server.sh.
# --skip-serve-logs: Airflow's log server binds every interface (it has no host
# option); the api-server reads trigger logs from $AIRFLOW_HOME/logs directly.

svc_airflow_triggerer_group() { echo engine; }
svc_airflow_triggerer_address() { echo "-"; }
svc_airflow_triggerer_version() { us_airflow_version; }
svc_airflow_triggerer_timeout() { echo 180; }
svc_airflow_triggerer_setup() { return 0; }

svc_airflow_triggerer_run() {
    us_airflow_env
    exec "$US_VENV/bin/airflow" triggerer --skip-serve-logs
}

# Ready = the api-server's health document shows this process's heartbeat.
svc_airflow_triggerer_ready() { us_airflow_component_ready airflow_triggerer triggerer; }

# A PostgreSQL restart makes it exit (its metadata database is gone); supervisord
# starts it again, with a growing back-off, until PostgreSQL answers, instead of
# giving up (FATAL) after one failed start.
svc_airflow_triggerer_supervisor() { echo startretries=30; }
