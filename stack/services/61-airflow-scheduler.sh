# Apache Airflow 3 scheduler: creates DAG runs, queues task instances and runs
# them with LocalExecutor (it forks [core] parallelism worker processes).
# Configuration and secrets: us_airflow_env in 60-airflow-api-server.sh.
# --skip-serve-logs: Airflow's log server binds every interface (it has no host
# option); with LocalExecutor the api-server reads task logs from
# $AIRFLOW_HOME/logs directly, so it is not needed.

svc_airflow_scheduler_group() { echo engine; }
svc_airflow_scheduler_address() { echo "-"; }
svc_airflow_scheduler_version() { us_airflow_version; }
svc_airflow_scheduler_timeout() { echo 180; }
svc_airflow_scheduler_setup() { return 0; }

svc_airflow_scheduler_run() {
    us_airflow_env
    exec "$US_VENV/bin/airflow" scheduler --skip-serve-logs
}

# Ready = the api-server's health document shows this process's heartbeat.
svc_airflow_scheduler_ready() { us_airflow_component_ready airflow_scheduler scheduler; }

# A PostgreSQL restart makes it exit (its metadata database is gone); supervisord
# starts it again, with a growing back-off, until PostgreSQL answers, instead of
# giving up (FATAL) after one failed start.
svc_airflow_scheduler_supervisor() { echo startretries=30; }
