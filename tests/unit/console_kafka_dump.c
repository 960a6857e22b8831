/* console_kafka_dump: prints the JSON of one con_kafka / con_registry call
 * against a running stack, for tests/integration/test_console_kafka.py and
 * by hand. Addresses from US_KAFKA_BOOTSTRAP and US_REGISTRY_URL; the Kafka
 * login, as the console's, from US_KAFKA_CONSOLE_CLIENT_FILE when set.
 *
 *   console_kafka_dump cluster | groups | subjects
 *   console_kafka_dump offsets TOPIC
 *   console_kafka_dump messages TOPIC PARTITION OFFSET TIMESTAMP_MS LIMIT
 *   console_kafka_dump spark CHECKPOINT_DIR
 *   console_kafka_dump version SUBJECT VERSION
 *   console_kafka_dump diff SUBJECT V1 V2
 *   console_kafka_dump threads TOPIC   every read call from 6 threads at once,
 *                                      sharing one con_kafka and con_registry
 *   console_kafka_dump cql-count CQL   con_cql's login and count at
 *                                      US_CASSANDRA_HOST:US_CASSANDRA_PORT, as the
 *                                      role of US_CASSANDRA_READER_CREDENTIALS (if set)
 *
 * Exit 0 with the JSON on stdout, 1 with the error on stderr, 2 on usage. */
#include "con_cql.h"
#include "us_creds.h"
#include "con_kafka.h"
#include "con_registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    con_kafka *k;
    con_registry *r;
    const char *topic;
    int id, calls, failures;
    char err[256];
} worker;

/* One thread's share of the mixed calls the console makes concurrently. */
static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 10; i++) {
        json_t *j = NULL;
        switch ((w->id + i) % 5) {
        case 0:
            j = con_kafka_end_offsets(w->k, w->topic, w->err, sizeof(w->err));
            break;
        case 1:
            j = con_kafka_messages(w->k, w->r, w->topic, 0, -1, -1, 20, w->err, sizeof(w->err));
            break;
        case 2:
            j = con_registry_subjects(w->r, w->err, sizeof(w->err));
            break;
        case 3:
            j = con_kafka_cluster(w->k, w->err, sizeof(w->err));
            break;
        default:
            j = con_kafka_groups(w->k, w->err, sizeof(w->err));
            break;
        }
        w->calls++;
        w->failures += j == NULL;
        json_decref(j);
    }
    return NULL;
}

static json_t *threads(con_kafka *k, con_registry *r, const char *topic)
{
    worker w[6];
    pthread_t t[6];
    int calls = 0, failures = 0;
    json_t *errors = json_array();
    for (int i = 0; i < 6; i++) {
        w[i] = (worker){.k = k, .r = r, .topic = topic, .id = i};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        calls += w[i].calls;
        failures += w[i].failures;
        if (w[i].failures)
            json_array_append_new(errors, json_string(w[i].err));
    }
    return json_pack("{s:i,s:i,s:o}", "calls", calls, "failures", failures, "errors", errors);
}

static json_t *run(con_kafka *k, con_registry *r, int argc, char **argv, char *err, size_t errlen)
{
    const char *cmd = argv[1];
    if (strcmp(cmd, "cluster") == 0)
        return con_kafka_cluster(k, err, errlen);
    if (strcmp(cmd, "groups") == 0)
        return con_kafka_groups(k, err, errlen);
    if (strcmp(cmd, "subjects") == 0)
        return con_registry_subjects(r, err, errlen);
    if (strcmp(cmd, "offsets") == 0 && argc == 3)
        return con_kafka_end_offsets(k, argv[2], err, errlen);
    if (strcmp(cmd, "threads") == 0 && argc == 3)
        return threads(k, r, argv[2]);
    if (strcmp(cmd, "spark") == 0 && argc == 3)
        return con_kafka_spark_lag(k, argv[2], err, errlen);
    if (strcmp(cmd, "version") == 0 && argc == 4)
        return con_registry_version(r, argv[2], argv[3], err, errlen);
    if (strcmp(cmd, "diff") == 0 && argc == 5)
        return con_registry_diff(r, argv[2], argv[3], argv[4], err, errlen);
    if (strcmp(cmd, "messages") == 0 && argc == 7)
        return con_kafka_messages(k, r, argv[2], atoi(argv[3]), atoll(argv[4]), atoll(argv[5]),
                                  atoi(argv[6]), err, errlen);
    snprintf(err, errlen, "usage: see the comment at the top of console_kafka_dump.c");
    return NULL;
}

/* con_cql as the console uses it: the login from the credentials file. */
static int cql_count(const char *cql)
{
    char err[512] = "", text[1024], user[256] = "", pass[512] = "";
    const char *host = getenv("US_CASSANDRA_HOST"), *port = getenv("US_CASSANDRA_PORT");
    const char *file = getenv("US_CASSANDRA_READER_CREDENTIALS");
    if (!host || !port) {
        fprintf(stderr, "console_kafka_dump: set US_CASSANDRA_HOST and US_CASSANDRA_PORT\n");
        return 2;
    }
    if (file && *file &&
        (us_creds_read(file, text, sizeof text, err, sizeof err) < 0 ||
         us_creds_cql(text, user, sizeof user, pass, sizeof pass, err, sizeof err) < 0)) {
        fprintf(stderr, "console_kafka_dump: US_CASSANDRA_READER_CREDENTIALS: %s\n", err);
        return 2;
    }
    con_cql_login login = {user[0] ? user : NULL, pass};
    int64_t n = 0;
    con_cql *q = con_cql_connect(host, atoi(port), &login, 30000, err, sizeof err);
    int rc = q && con_cql_query_count(q, cql, &n, err, sizeof err) == 0 ? 0 : 1;
    con_cql_close(q);
    if (rc == 0)
        printf("{\"count\": %lld}\n", (long long)n);
    else
        fprintf(stderr, "console_kafka_dump: %s\n", err);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "cql-count") == 0)
        return cql_count(argv[2]);
    char err[512] = "";
    const char *boot = getenv("US_KAFKA_BOOTSTRAP");
    const char *url = getenv("US_REGISTRY_URL");
    if (argc < 2 || !boot || !url) {
        fprintf(stderr, "usage: US_KAFKA_BOOTSTRAP=... US_REGISTRY_URL=... %s CMD ARGS\n", argv[0]);
        return 2;
    }
    char props[4096];
    const char *login[2 * 16 + 1] = {NULL};
    const char *file = getenv("US_KAFKA_CONSOLE_CLIENT_FILE");
    if (file && *file &&
        (us_creds_read(file, props, sizeof props, err, sizeof err) < 0 ||
         us_creds_properties(props, login, 0, 16, err, sizeof err) < 0)) {
        fprintf(stderr, "console_kafka_dump: US_KAFKA_CONSOLE_CLIENT_FILE: %s\n", err);
        return 2;
    }
    con_kafka *k = con_kafka_new(boot, login, 5000, err, sizeof(err));
    con_registry *r = k ? con_registry_new(url, NULL, 5000, err, sizeof(err)) : NULL;
    json_t *j = r ? run(k, r, argc, argv, err, sizeof(err)) : NULL;
    if (j) {
        char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
        printf("%s\n", s ? s : "null");
        free(s);
        json_decref(j);
    } else {
        fprintf(stderr, "console_kafka_dump: %s\n", err);
    }
    con_registry_free(r);
    con_kafka_free(k);
    return j ? 0 : 1;
}
