/* userstream-console: the stack's Control Center (issue 9).
 *
 * main only orchestrates: configuration, the password, the time-series ring,
 * the collector threads, the HTTP server; then it waits for a signal (or
 * --max-seconds) and stops them in reverse order. Exit codes in --help and
 * src/console/README.md. */
#include "con_airflow.h"
#include "con_api.h"
#include "con_auth.h"
#include "con_collect.h"
#include "us_creds.h"
#include "con_fetch.h"
#include "con_ring.h"
#ifdef CON_WITH_KAFKA
#include "con_kafka.h"
#include "con_registry.h"
#endif
#include "us_config.h"
#include "us_http.h"
#include "us_log.h"
#include "us_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CON_WEB_DIR
#define CON_WEB_DIR "web"
#endif

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_SECRET = 3 };

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const us_option options[] = {
    {"US_HOME", NULL, 0, US_OPT_STRING, NULL, "DIR",
     "the stack's state directory (default for the secrets)"},
    {"US_CACHE", NULL, 0, US_OPT_STRING, NULL, "DIR", "the shared cache (default for uPlot)"},
    {"US_BIND", "bind", 0, US_OPT_STRING, "127.0.0.1", "ADDR",
     "listen here only; the local services are here too"},
    {"US_PORT_OFFSET", NULL, 0, US_OPT_INT, "0", "N",
     "added to every *_PORT from the file or defaults"},
    {"US_CONSOLE_PORT", "port", 'p', US_OPT_INT, "8103", "PORT", "the console's HTTP port"},
    {"US_CONSOLE_WEB_DIR", "web-dir", 0, US_OPT_STRING, CON_WEB_DIR, "DIR",
     "the page's static files"},
    {"US_CONSOLE_UPLOT_DIR", "uplot-dir", 0, US_OPT_STRING, NULL, "DIR",
     "uPlot's dist/ (default: US_CACHE/npm/node_modules/uplot/dist)"},
    {"US_SECRETS_DIR", NULL, 0, US_OPT_STRING, NULL, "DIR", "secrets (default: US_HOME/secrets)"},
    {"US_CONSOLE_PASSWORD_FILE", "password-file", 0, US_OPT_STRING, NULL, "FILE",
     "the login password, mode 0600 (default: US_SECRETS_DIR/console-password)"},
    {"US_CONSOLE_METRICS_TOKEN_FILE", "metrics-token-file", 0, US_OPT_STRING, NULL, "FILE",
     "bearer token of /metrics, mode 0600 (default: US_SECRETS_DIR/console-metrics-token; absent: "
     "sessions only)"},
    {"US_CONSOLE_SESSION_HOURS", NULL, 0, US_OPT_INT, "12", "H", "a login lasts this long"},
    {"US_CONSOLE_LOGIN_DELAY_MS", NULL, 0, US_OPT_INT, "1000", "MS",
     "delay of a wrong password's answer"},
    {"US_CONSOLE_INTERVAL_MS", NULL, 0, US_OPT_INT, "1000", "MS",
     "one collection round this often"},
    {"US_CONSOLE_HISTORY_S", NULL, 0, US_OPT_INT, "3600", "S",
     "seconds of history kept per metric"},
    {"US_CONSOLE_COUNT_INTERVAL_S", NULL, 0, US_OPT_INT, "5", "S",
     "count(*) of the staging tables this often"},
    {"US_CONSOLE_SCAN_INTERVAL_S", NULL, 0, US_OPT_INT, "15", "S",
     "Cassandra count(*) and the DLQ read this often"},
    {"US_CONSOLE_MAX_SECONDS", "max-seconds", 0, US_OPT_INT, "0", "S",
     "stop after S seconds (tests); 0 never"},
    {"US_CONSOLE_ALERT_WAL_BYTES", NULL, 0, US_OPT_INT, "1073741824", "BYTES",
     "alert when the relay's slot retains more WAL than this"},
    {"US_CONSOLE_ALERT_WAL_LIMIT_PCT", NULL, 0, US_OPT_INT, "80", "PCT",
     "alert when the slot's WAL reaches this share of max_slot_wal_keep_size"},
    {"US_CONSOLE_ALERT_LAG_MINUTES", NULL, 0, US_OPT_INT, "5", "MIN",
     "alert when a stage's lag grows for this long"},
    {"US_SPARK_TRIGGER_MS", NULL, 0, US_OPT_INT, "0", "MS",
     "the Spark query's trigger interval; a slower batch is an alert (0: no alert)"},
    {"US_CONSOLE_AIRFLOW_USER", NULL, 0, US_OPT_STRING, "admin", "USER",
     "Airflow user of the Airflow view"},
    {"US_CONSOLE_AIRFLOW_PASSWORDS", NULL, 0, US_OPT_STRING, NULL, "FILE",
     "its password, JSON {user: password} (default: US_SECRETS_DIR/airflow-passwords.json)"},
    {"US_PG_HOST", NULL, 0, US_OPT_STRING, NULL, "HOST", "PostgreSQL host (default: US_BIND)"},
    {"US_PG_PORT", NULL, 0, US_OPT_INT, "5433", "PORT", "PostgreSQL port"},
    {"US_PG_DATABASE", NULL, 0, US_OPT_STRING, "userstream", "DB", "the pipeline's database"},
    {"US_PG_OPS_USER", NULL, 0, US_OPT_STRING, "ops", "ROLE",
     "role the console reads as (password from PGPASSFILE)"},
    {"US_RELAY_SLOT", NULL, 0, US_OPT_STRING, "userstream_relay", "NAME",
     "the relay's replication slot"},
    {"US_CONSOLE_SPARK_CHECKPOINT", NULL, 0, US_OPT_STRING, NULL, "DIR",
     "the Spark query's checkpoint (default: US_HOME/spark/checkpoints/users)"},
    {"US_CONSOLE_SPARK_QUERY", NULL, 0, US_OPT_STRING, "users", "NAME",
     "ops.stream_progress query of the pipeline"},
    {"US_KAFKA_PORT", NULL, 0, US_OPT_INT, "9092", "PORT",
     "Kafka port (for the default bootstrap)"},
    {"US_KAFKA_BOOTSTRAP", NULL, 0, US_OPT_STRING, NULL, "HOST:PORT",
     "Kafka bootstrap (default: US_BIND:US_KAFKA_PORT)"},
    {"US_KAFKA_TOPIC_USERS", NULL, 0, US_OPT_STRING, "userstream.users", "TOPIC",
     "the change topic"},
    {"US_KAFKA_TOPIC_DLQ", NULL, 0, US_OPT_STRING, "userstream.users.dlq", "TOPIC",
     "the dead-letter topic"},
    {"US_CONSOLE_KAFKA_CONF", NULL, 0, US_OPT_PAIRS, NULL, "K=V,...",
     "extra librdkafka settings (k=v,k=v; a list value needs no quoting)"},
    {"US_KAFKA_CONSOLE_CLIENT_FILE", NULL, 0, US_OPT_STRING, NULL, "FILE",
     "librdkafka properties with the console's SASL credentials (mode 0600; none: no login)"},
    {"US_REGISTRY_PORT", NULL, 0, US_OPT_INT, "8085", "PORT",
     "registry port (for the default URL)"},
    {"US_REGISTRY_URL", NULL, 0, US_OPT_STRING, NULL, "URL",
     "Confluent-compatible API (default: http://US_BIND:US_REGISTRY_PORT/apis/ccompat/v7)"},
    {"US_CASSANDRA_HOST", NULL, 0, US_OPT_STRING, NULL, "HOST",
     "Cassandra host (default: US_BIND)"},
    {"US_CASSANDRA_PORT", NULL, 0, US_OPT_INT, "9042", "PORT", "Cassandra CQL port"},
    {"US_CASSANDRA_KEYSPACE", NULL, 0, US_OPT_STRING, "userstream", "KS",
     "the keyspace of the users table"},
    {"US_CASSANDRA_READER_CREDENTIALS", NULL, 0, US_OPT_STRING, NULL, "FILE",
     "cqlsh credentials file of the reader role (mode 0600; none: no login)"},
    {"US_SOURCE_PORT", NULL, 0, US_OPT_INT, "8100", "PORT", "userstream-source port"},
    {"US_SOURCE_URL", NULL, 0, US_OPT_STRING, NULL, "URL",
     "the source API (default: http://US_BIND:US_SOURCE_PORT/api/1.4/)"},
    {"US_SOURCE_METRICS_PORT", NULL, 0, US_OPT_INT, "8104", "PORT",
     "the source's /metrics (0: none, the source stage shows no count)"},
    {"US_SOURCE_HOST", NULL, 0, US_OPT_STRING, NULL, "HOST",
     "host of the source's /metrics (default: US_BIND)"},
    {"US_RELAY_HOST", NULL, 0, US_OPT_STRING, NULL, "HOST",
     "host of the relay's /metrics and /health (default: US_BIND)"},
    {"US_RELAY_METRICS_PORT", NULL, 0, US_OPT_INT, "8102", "PORT",
     "the relay's /metrics and /health"},
    {"US_SPARK_MASTER_UI_PORT", NULL, 0, US_OPT_INT, "8090", "PORT", "Spark master UI (/json/)"},
    {"US_SPARK_WORKER_PORT", NULL, 0, US_OPT_INT, "7078", "PORT",
     "the Spark worker's port (how it registers)"},
    {"US_SPARK_DRIVER_UI_PORT", NULL, 0, US_OPT_INT, "4040", "PORT", "the Spark job's driver UI"},
    {"US_AIRFLOW_PORT", NULL, 0, US_OPT_INT, "8080", "PORT", "Airflow api-server port"},
    {"US_AIRFLOW_URL", NULL, 0, US_OPT_STRING, NULL, "URL",
     "Airflow (default: http://US_BIND:US_AIRFLOW_PORT)"},
};

static const us_program program = {
    "userstream-console",
    "the stack's Control Center: the pipeline live, Kafka, the registry, history, /metrics",
    "[OPTION]...",
    "Exit codes: 0 stopped (signal, --max-seconds); 1 runtime error (cannot listen);\n"
    "2 usage or configuration error; 3 the password or token file is missing, empty or\n"
    "readable by others.\n",
};

#define MAX_KAFKA_EXTRA 32

/* Everything main derives from the configuration. */
typedef struct con_settings {
    const char *bind;
    long port, session_h, login_delay_ms, interval_ms, history_s, count_s, scan_s, max_seconds;
    char home[1024], secrets[1024], password_file[1200], token_file[1200], uplot[1200];
    char conninfo[1024], pg_address[256], bootstrap[512], registry[512], source[512];
    char relay_metrics[256], relay_health[256], source_metrics[256], spark_master[256],
        spark_worker[128];
    char spark_driver[256], airflow_health[512], cass_host[256], checkpoint[1200];
    char airflow_url[512], airflow_pw[1200];
    const char *airflow_user;
    long cass_port, alert_wal, alert_wal_pct, alert_lag_min, trigger_ms;
    char kafka_extra_buf[2048], kafka_file_buf[4096];
    const char *kafka_extra[MAX_KAFKA_EXTRA * 2 + 1];
    char cass_user[256], cass_pass[512];
} con_settings;

static const char *get_or(us_config *c, const char *key, const char *def)
{
    const char *v = us_config_get(c, key);
    return v && *v ? v : def;
}

static int get_num(us_config *c, const char *key, long min, long max, long *out, char *err,
                   size_t errlen)
{
    return us_config_get_int(c, key, min, max, out, err, errlen);
}

/* out = the setting key when it is set (else out keeps its default). */
static void set_if(us_config *c, const char *key, char *out, size_t outlen)
{
    const char *v = get_or(c, key, NULL);
    if (v)
        snprintf(out, outlen, "%s", v);
}

/* The console's own logins (read-only principals): Kafka's after the
 * US_CONSOLE_KAFKA_CONF pairs, Cassandra's reader role. A key that is set
 * names a file that must be there; unset (a stack without authentication)
 * means no login. The messages name the key and the file, never a value. */
static int credentials_load(us_config *c, con_settings *s, char *err, size_t errlen)
{
    char e[512], text[1024];
    const char *kf = get_or(c, "US_KAFKA_CONSOLE_CLIENT_FILE", NULL);
    const char *cf = get_or(c, "US_CASSANDRA_READER_CREDENTIALS", NULL);
    size_t n0 = 0;
    while (s->kafka_extra[n0 * 2])
        n0++;
    if (kf && (us_creds_read(kf, s->kafka_file_buf, sizeof s->kafka_file_buf, e, sizeof e) < 0 ||
               us_creds_properties(s->kafka_file_buf, s->kafka_extra, n0, MAX_KAFKA_EXTRA, e,
                                   sizeof e) < 0)) {
        snprintf(err, errlen, "US_KAFKA_CONSOLE_CLIENT_FILE: %s", e);
        return -1;
    }
    int rc = 0;
    if (cf && (us_creds_read(cf, text, sizeof text, e, sizeof e) < 0 ||
               us_creds_cql(text, s->cass_user, sizeof s->cass_user, s->cass_pass,
                            sizeof s->cass_pass, e, sizeof e) < 0)) {
        snprintf(err, errlen, "US_CASSANDRA_READER_CREDENTIALS %s: %s", cf, e);
        rc = -1;
    }
    memset(text, 0, sizeof text);
    return rc;
}

static int read_numbers(us_config *c, con_settings *s, long ports[9], char *err, size_t errlen)
{
    static const char *const port_keys[] = {"US_PG_PORT",
                                            "US_KAFKA_PORT",
                                            "US_REGISTRY_PORT",
                                            "US_CASSANDRA_PORT",
                                            "US_SOURCE_PORT",
                                            "US_RELAY_METRICS_PORT",
                                            "US_SPARK_MASTER_UI_PORT",
                                            "US_SPARK_WORKER_PORT",
                                            "US_SPARK_DRIVER_UI_PORT"};
    for (size_t i = 0; i < 9; i++)
        if (get_num(c, port_keys[i], 1, 65535, &ports[i], err, errlen) < 0)
            return -1;
    return get_num(c, "US_CONSOLE_PORT", 1, 65535, &s->port, err, errlen) < 0 ||
                   get_num(c, "US_CONSOLE_SESSION_HOURS", 1, 24 * 365, &s->session_h, err, errlen) <
                       0 ||
                   get_num(c, "US_CONSOLE_LOGIN_DELAY_MS", 0, 60000, &s->login_delay_ms, err,
                           errlen) < 0 ||
                   get_num(c, "US_CONSOLE_INTERVAL_MS", 100, 60000, &s->interval_ms, err, errlen) <
                       0 ||
                   get_num(c, "US_CONSOLE_HISTORY_S", 60, 7 * 86400, &s->history_s, err, errlen) <
                       0 ||
                   get_num(c, "US_CONSOLE_COUNT_INTERVAL_S", 1, 3600, &s->count_s, err, errlen) <
                       0 ||
                   get_num(c, "US_CONSOLE_SCAN_INTERVAL_S", 1, 86400, &s->scan_s, err, errlen) <
                       0 ||
                   get_num(c, "US_CONSOLE_MAX_SECONDS", 0, 86400 * 365, &s->max_seconds, err,
                           errlen) < 0
               ? -1
               : 0;
}

static int settings_load(us_config *c, con_settings *s, char *err, size_t errlen)
{
    long p[9], air, smp;
    memset(s, 0, sizeof *s);
    if (read_numbers(c, s, p, err, errlen) < 0 ||
        get_num(c, "US_CONSOLE_ALERT_WAL_BYTES", 0, 0x7fffffffffffffffL, &s->alert_wal, err,
                errlen) < 0 ||
        get_num(c, "US_CONSOLE_ALERT_WAL_LIMIT_PCT", 1, 100, &s->alert_wal_pct, err, errlen) < 0 ||
        get_num(c, "US_CONSOLE_ALERT_LAG_MINUTES", 1, 59, &s->alert_lag_min, err, errlen) < 0 ||
        get_num(c, "US_SPARK_TRIGGER_MS", 0, 86400000, &s->trigger_ms, err, errlen) < 0 ||
        get_num(c, "US_AIRFLOW_PORT", 1, 65535, &air, err, errlen) < 0 ||
        get_num(c, "US_SOURCE_METRICS_PORT", 0, 65535, &smp, err, errlen) < 0)
        return -1;
    s->bind = get_or(c, "US_BIND", "127.0.0.1");
    const char *home = get_or(c, "US_HOME", NULL);
    snprintf(s->secrets, sizeof s->secrets, "%s", get_or(c, "US_SECRETS_DIR", ""));
    if (!s->secrets[0] && home)
        snprintf(s->secrets, sizeof s->secrets, "%s/secrets", home);
    if (!s->secrets[0] && !us_config_get(c, "US_CONSOLE_PASSWORD_FILE")) {
        snprintf(err, errlen, "set US_HOME, US_SECRETS_DIR or US_CONSOLE_PASSWORD_FILE");
        return -1;
    }
    snprintf(s->password_file, sizeof s->password_file, "%s/console-password", s->secrets);
    set_if(c, "US_CONSOLE_PASSWORD_FILE", s->password_file, sizeof s->password_file);
    snprintf(s->token_file, sizeof s->token_file, "%s/console-metrics-token", s->secrets);
    set_if(c, "US_CONSOLE_METRICS_TOKEN_FILE", s->token_file, sizeof s->token_file);
    const char *cache = get_or(c, "US_CACHE", NULL);
    if (cache)
        snprintf(s->uplot, sizeof s->uplot, "%s/npm/node_modules/uplot/dist", cache);
    set_if(c, "US_CONSOLE_UPLOT_DIR", s->uplot, sizeof s->uplot);
    if (home)
        snprintf(s->checkpoint, sizeof s->checkpoint, "%s/spark/checkpoints/users", home);
    set_if(c, "US_CONSOLE_SPARK_CHECKPOINT", s->checkpoint, sizeof s->checkpoint);
    const char *pghost = get_or(c, "US_PG_HOST", s->bind);
    snprintf(s->conninfo, sizeof s->conninfo, "host=%s port=%ld dbname=%s user=%s", pghost, p[0],
             get_or(c, "US_PG_DATABASE", "userstream"), get_or(c, "US_PG_OPS_USER", "ops"));
    snprintf(s->pg_address, sizeof s->pg_address, "%s:%ld", pghost, p[0]);
    snprintf(s->bootstrap, sizeof s->bootstrap, "%s", get_or(c, "US_KAFKA_BOOTSTRAP", ""));
    if (!s->bootstrap[0])
        snprintf(s->bootstrap, sizeof s->bootstrap, "%s:%ld", s->bind, p[1]);
    snprintf(s->registry, sizeof s->registry, "%s", get_or(c, "US_REGISTRY_URL", ""));
    if (!s->registry[0])
        snprintf(s->registry, sizeof s->registry, "http://%s:%ld/apis/ccompat/v7", s->bind, p[2]);
    snprintf(s->cass_host, sizeof s->cass_host, "%s", get_or(c, "US_CASSANDRA_HOST", s->bind));
    s->cass_port = p[3];
    snprintf(s->source, sizeof s->source, "%s", get_or(c, "US_SOURCE_URL", ""));
    if (!s->source[0])
        snprintf(s->source, sizeof s->source, "http://%s:%ld/api/1.4/", s->bind, p[4]);
    const char *rh = get_or(c, "US_RELAY_HOST", s->bind),
               *sh = get_or(c, "US_SOURCE_HOST", s->bind);
    snprintf(s->relay_metrics, sizeof s->relay_metrics, "http://%s:%ld/metrics", rh, p[5]);
    snprintf(s->relay_health, sizeof s->relay_health, "http://%s:%ld/health", rh, p[5]);
    if (smp > 0)
        snprintf(s->source_metrics, sizeof s->source_metrics, "http://%s:%ld/metrics", sh, smp);
    snprintf(s->spark_master, sizeof s->spark_master, "http://%s:%ld/json/", s->bind, p[6]);
    snprintf(s->spark_worker, sizeof s->spark_worker, "%s:%ld", s->bind, p[7]);
    snprintf(s->spark_driver, sizeof s->spark_driver, "http://%s:%ld/api/v1/applications", s->bind,
             p[8]);
    const char *aurl = get_or(c, "US_AIRFLOW_URL", NULL);
    if (aurl)
        snprintf(s->airflow_url, sizeof s->airflow_url, "%s", aurl);
    else
        snprintf(s->airflow_url, sizeof s->airflow_url, "http://%s:%ld", s->bind, air);
    snprintf(s->airflow_pw, sizeof s->airflow_pw, "%s/airflow-passwords.json", s->secrets);
    set_if(c, "US_CONSOLE_AIRFLOW_PASSWORDS", s->airflow_pw, sizeof s->airflow_pw);
    s->airflow_user = get_or(c, "US_CONSOLE_AIRFLOW_USER", "admin");
    if (aurl)
        snprintf(s->airflow_health, sizeof s->airflow_health, "%s/api/v2/monitor/health", aurl);
    else
        snprintf(s->airflow_health, sizeof s->airflow_health, "http://%s:%ld/api/v2/monitor/health",
                 s->bind, air);
    const char *ks = get_or(c, "US_CASSANDRA_KEYSPACE", "userstream");
    if (strspn(ks, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
        strlen(ks)) {
        snprintf(err, errlen, "US_CASSANDRA_KEYSPACE \"%s\" is not a plain identifier", ks);
        return -1;
    }
    return us_config_get_pairs(c, "US_CONSOLE_KAFKA_CONF", s->kafka_extra, MAX_KAFKA_EXTRA,
                               s->kafka_extra_buf, sizeof s->kafka_extra_buf, err, errlen) < 0 ||
                   credentials_load(c, s, err, errlen) < 0
               ? -1
               : 0;
}

static void collect_conf(us_config *c, const con_settings *s, con_collect_conf *cc)
{
    memset(cc, 0, sizeof *cc);
    cc->pg.conninfo = s->conninfo;
    cc->pg.slot = get_or(c, "US_RELAY_SLOT", "userstream_relay");
    cc->pg.spark_query = get_or(c, "US_CONSOLE_SPARK_QUERY", "users");
    cc->pg.count_interval_s = s->count_s;
    cc->pg_address = s->pg_address;
    cc->up = (con_upstream_conf){s->bind,
                                 s->relay_metrics,
                                 s->relay_health,
                                 s->source_metrics,
                                 s->source,
                                 s->registry,
                                 s->spark_master,
                                 s->spark_worker,
                                 s->spark_driver,
                                 s->airflow_health,
                                 s->cass_host,
                                 (int)s->cass_port,
                                 2000,
                                 {s->cass_user[0] ? s->cass_user : NULL, s->cass_pass}};
    cc->kafka_bootstrap = s->bootstrap;
    cc->kafka_extra = s->kafka_extra;
    cc->topic = get_or(c, "US_KAFKA_TOPIC_USERS", "userstream.users");
    cc->dlq_topic = get_or(c, "US_KAFKA_TOPIC_DLQ", "userstream.users.dlq");
    cc->cassandra_keyspace = get_or(c, "US_CASSANDRA_KEYSPACE", "userstream");
    cc->interval_ms = s->interval_ms;
    cc->slow_interval_s = s->scan_s;
    cc->cassandra_slices = 64;
    cc->alerts.wal_bytes = (double)s->alert_wal;
    cc->alerts.wal_limit_pct = (double)s->alert_wal_pct;
    cc->alerts.lag_minutes = s->alert_lag_min;
    cc->alerts.spark_trigger_ms = s->trigger_ms;
}

/* The token file is optional: without it only a session opens /metrics. */
static con_auth *auth_open(const con_settings *s, char *err, size_t errlen)
{
    const char *token = access(s->token_file, F_OK) == 0 ? s->token_file : NULL;
    if (!token)
        us_warn("no %s: /metrics answers only to a logged-in session", s->token_file);
    return con_auth_new(s->password_file, token, s->session_h * 3600, err, errlen);
}

/* The Kafka and registry clients of the API's browse pages (one set-up each,
 * where SASL or basic-auth settings will go). */
static int upstream_clients(con_api *api, const con_settings *s, char *err, size_t errlen)
{
    if (!(api->airflow = con_airflow_new(s->airflow_url, s->airflow_pw, s->airflow_user, 10000))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
#ifdef CON_WITH_KAFKA
    if (!(api->kafka = con_kafka_new(s->bootstrap, s->kafka_extra, 5000, err, errlen)) ||
        !(api->registry = con_registry_new(s->registry, NULL, 5000, err, errlen)))
        return -1;
#else
    (void)api, (void)s, (void)err, (void)errlen;
#endif
    return 0;
}

static int serve(us_config *cfg, con_settings *s)
{
    char err[1024] = "";
    con_collect_conf cc;
    us_http *http = NULL;
    int code = EXIT_ERROR;
    con_auth *auth = auth_open(s, err, sizeof err);
    if (!auth) {
        us_error("%s", err);
        return EXIT_SECRET;
    }
    con_ring *ring = con_ring_new(128, (size_t)s->history_s);
    collect_conf(cfg, s, &cc);
    con_collect *col = ring ? con_collect_start(&cc, ring, err, sizeof err) : NULL;
    con_api api = {.auth = auth,
                   .collect = col,
                   .ring = ring,
                   .web_dir = get_or(cfg, "US_CONSOLE_WEB_DIR", CON_WEB_DIR),
                   .uplot_dir = s->uplot[0] ? s->uplot : NULL,
                   .login_delay_ms = s->login_delay_ms,
                   .spark_checkpoint = s->checkpoint};
    if (col && upstream_clients(&api, s, err, sizeof err) < 0) {
        us_error("%s", err);
        goto out;
    }
    size_t n_routes;
    const us_http_route *routes = con_api_routes(&api, &n_routes);
    us_http_config hc = {s->bind, (int)s->port, 64, 30, 16384, con_api_guard, &api};
    http = col ? us_http_start(&hc, routes, n_routes, err, sizeof err) : NULL;
    if (!http) {
        us_error("%s", err[0] ? err : "out of memory");
        goto out;
    }
    api.http = http;
    us_info("listening on http://%s:%ld (PostgreSQL %s, Kafka %s)", s->bind, s->port, s->pg_address,
            s->bootstrap);
    for (long waited = 0; !stop_requested && (!s->max_seconds || waited < s->max_seconds * 10);
         waited++)
        usleep(100000);
    us_info("stopping");
    code = EXIT_OK;
out:
    us_http_stop(http);
    con_collect_stop(col);
    con_ring_free(ring);
    con_auth_free(auth);
    con_airflow_free(api.airflow);
#ifdef CON_WITH_KAFKA
    con_kafka_free(api.kafka);
    con_registry_free(api.registry);
#endif
    return code;
}

int main(int argc, char **argv)
{
    int first;
    char err[1024];
    con_settings s;
    us_log_set_program("userstream-console");
    us_config *cfg = us_config_new(options, US_ARRAY_LEN(options));
    if (!cfg)
        return EXIT_ERROR;
    int rc = us_config_parse_args(cfg, &program, argc, argv, &first, err, sizeof err);
    if (rc != US_PARSE_OK || first < argc || settings_load(cfg, &s, err, sizeof err) < 0) {
        if (rc != US_PARSE_EXIT)
            fprintf(stderr, "userstream-console: %s\nTry 'userstream-console --help'.\n",
                    rc == US_PARSE_OK && first < argc ? "unexpected argument" : err);
        us_config_free(cfg);
        return rc == US_PARSE_EXIT ? EXIT_OK : EXIT_USAGE;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (con_fetch_global_init() < 0) {
        us_error("libcurl initialisation failed");
        us_config_free(cfg);
        return EXIT_ERROR;
    }
    int code = serve(cfg, &s);
    us_config_free(cfg);
    return code;
}
