# Apache Airflow 3 dag-processor: parses the DAG files of airflow/dags and
# stores them, serialised, in the metadata database.
# Configuration and secrets: us_airflow_env in 60-airflow-api-server.sh.

svc_airflow_dag_processor_group() { echo engine; }
svc_airflow_dag_processor_address() { echo "-"; }
svc_airflow_dag_processor_version() { us_airflow_version; }
svc_airflow_dag_processor_timeout() { echo 180; }
svc_airflow_dag_processor_setup() { return 0; }

svc_airflow_dag_processor_run() {
    us_airflow_env
    exec "$US_VENV/bin/airflow" dag-processor
}

# Ready = the api-server's health document shows this process's heartbeat.
svc_airflow_dag_processor_ready() { us_airflow_component_ready airflow_dag_processor dag_processor; }

# A PostgreSQL restart makes it exit (its metadata database is gone); supervisord
# starts it again, with a growing back-off, until PostgreSQL answers, instead of
# giving up (FATAL) after one failed start.
svc_airflow_dag_processor_supervisor() { echo startretries=30; }
