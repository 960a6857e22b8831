/* con_airflow: the Airflow view of the console (issue 9 §4): the last runs
 * of each DAG through Airflow 3's REST API, authenticated as the stack's
 * admin user (password from $US_SECRETS_DIR/airflow-passwords.json, the
 * file SimpleAuthManager reads; a JWT from POST /auth/token, kept and
 * renewed when Airflow answers 401). Thread-safe (one mutex around the
 * token). The quality DAG's last report is read from ops.ingest_quality by
 * con_pg ("quality" of /api/pipeline).
 *
 *   GET {url}/api/v2/dags?limit=100                     {"dags":[{"dag_id","is_paused",...}]}
 *   GET {url}/api/v2/dags/{id}/dagRuns?order_by=-start_date&limit=N
 *                                                       {"dag_runs":[{"dag_run_id","state",...}]}
 */
#ifndef CON_AIRFLOW_H
#define CON_AIRFLOW_H

#include <jansson.h>
#include <stddef.h>

typedef struct con_airflow con_airflow;

con_airflow *con_airflow_new(const char *base_url, const char *passwords_file, const char *user,
                             long timeout_ms);
void con_airflow_free(con_airflow *a);

/* {"dags":[{"dag_id","is_paused","runs":[{"run_id","state","run_type",
 *   "start_date","end_date","duration"}]}]}; NULL with the reason. */
json_t *con_airflow_runs(con_airflow *a, int limit, char *err, size_t errlen);

/* Parsers of Airflow's answers (pure; unit and fuzz tests): the DAG list ->
 * [{"dag_id","is_paused"}]; a run list -> [{run fields above}]. */
json_t *con_airflow_parse_dags(const char *body, size_t len, char *err, size_t errlen);
json_t *con_airflow_parse_runs(const char *body, size_t len, char *err, size_t errlen);

#endif
