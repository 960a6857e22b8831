/* libFuzzer target: upstream JSON the console reads (any bytes as the Spark
 * master's /json/, Airflow's health document, DAG list and run list). */
#include "con_airflow.h"
#include "con_upstream.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256], wwhy[256];
    bool m, w;
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    con_health_spark(doc, "127.0.0.1:7078", &m, why, sizeof why, &w, wwhy, sizeof wwhy);
    con_health_airflow(doc, "scheduler");
    con_health_airflow(doc, "metadatabase");
    json_decref(doc);
    json_decref(con_airflow_parse_dags((const char *)data, size, why, sizeof why));
    json_decref(con_airflow_parse_runs((const char *)data, size, why, sizeof why));
    return 0;
}
