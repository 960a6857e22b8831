/* con_health: the readiness checks of con_upstream_health (con_upstream.h). */
#include "con_cql.h"
#include "con_fetch.h"
#include "con_upstream.h"

#include <stdio.h>
#include <string.h>

typedef struct check_ctx {
    const con_upstream_conf *conf;
    us_buf *body;
    json_t *airflow; /* the health document, fetched once per round */
    json_t *spark;   /* the master's /json/ document */
} check_ctx;

/* GET url; 0 when it answers 200 (body kept in ctx->body), else -1 and why. */
static int http_ok(check_ctx *c, const char *url, char *why, size_t whylen)
{
    char err[256];
    long st = con_fetch_get(url, c->conf->timeout_ms, NULL, c->body, err, sizeof err);
    if (st == 200)
        return 0;
    if (st > 0)
        snprintf(why, whylen, "HTTP %ld", st);
    else
        snprintf(why, whylen, "%s", err);
    return -1;
}

static json_t *http_json(check_ctx *c, const char *url, char *why, size_t whylen)
{
    json_error_t je;
    if (http_ok(c, url, why, whylen) < 0)
        return NULL;
    json_t *doc = json_loadb(c->body->data, c->body->len, 0, &je);
    if (!doc)
        snprintf(why, whylen, "not JSON: %s", je.text);
    return doc;
}

static void add(json_t *list, con_sample *s, const char *name, const char *address, bool up,
                const char *detail)
{
    char metric[64];
    json_array_append_new(list,
                          json_pack("{s:s,s:s,s:s,s:s}", "name", name, "state", up ? "up" : "down",
                                    "detail", detail, "address", address));
    snprintf(metric, sizeof metric, "health.%s", name);
    con_sample_put(s, metric, up ? 1 : 0);
}

static void check_http(check_ctx *c, json_t *list, con_sample *s, const char *name, const char *url,
                       const char *address)
{
    char why[256] = "ready";
    bool up = http_ok(c, url, why, sizeof why) == 0;
    add(list, s, name, address, up, why);
}

void con_health_spark(const json_t *doc, const char *worker, bool *master_up, char *why,
                      size_t whylen, bool *worker_up, char *wwhy, size_t wwhylen)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    size_t i;
    json_t *w;
    *master_up = st && !strcmp(st, "ALIVE");
    *worker_up = false;
    snprintf(why, whylen, "status %s", st ? st : "missing");
    snprintf(wwhy, wwhylen, "worker not registered");
    json_array_foreach(json_object_get(doc, "workers"), i, w)
    {
        char hp[320];
        const char *state = json_string_value(json_object_get(w, "state"));
        snprintf(hp, sizeof hp, "%.256s:%lld", json_string_value(json_object_get(w, "host")) ?: "",
                 (long long)json_integer_value(json_object_get(w, "port")));
        if (!strcmp(hp, worker) && state) {
            *worker_up = !strcmp(state, "ALIVE");
            snprintf(wwhy, wwhylen, "state %.64s", state);
        }
    }
}

const char *con_health_airflow(const json_t *doc, const char *component)
{
    return json_string_value(json_object_get(json_object_get(doc, component), "status"));
}

static void check_spark(check_ctx *c, json_t *list, con_sample *s, const char *address)
{
    char why[256] = "", wwhy[256] = "master down";
    bool mup = false, wup = false;
    if ((c->spark = http_json(c, c->conf->spark_master_url, why, sizeof why)))
        con_health_spark(c->spark, c->conf->spark_worker, &mup, why, sizeof why, &wup, wwhy,
                         sizeof wwhy);
    add(list, s, "spark_master", address, mup, why);
    add(list, s, "spark_worker", c->conf->spark_worker, wup, wwhy);
}

static void check_airflow(check_ctx *c, json_t *list, con_sample *s, const char *address)
{
    static const char *const parts[][2] = {{"airflow_api_server", "metadatabase"},
                                           {"airflow_scheduler", "scheduler"},
                                           {"airflow_dag_processor", "dag_processor"},
                                           {"airflow_triggerer", "triggerer"}};
    char why[256] = "";
    c->airflow = http_json(c, c->conf->airflow_health_url, why, sizeof why);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        const char *st = con_health_airflow(c->airflow, parts[i][1]);
        char d[256];
        if (c->airflow)
            snprintf(d, sizeof d, "%s %.64s", parts[i][1], st ? st : "unknown");
        else
            snprintf(d, sizeof d, "%s", why);
        add(list, s, parts[i][0], address, st && !strcmp(st, "healthy"), d);
    }
}

/* One connection is held between rounds: every login costs Cassandra a
 * bcrypt hash (PasswordAuthenticator), and a new one each second kept a third
 * of a core busy on an idle stack. A held connection that no longer answers
 * OPTIONS is dropped and a new one made in the same round, so a restarted
 * Cassandra shows as up again at once and a stopped one as down. */
static void check_cassandra(check_ctx *c, json_t *list, con_sample *s, con_cql **held)
{
    char why[256] = "ready", address[160];
    snprintf(address, sizeof address, "%s:%d", c->conf->cassandra_host, c->conf->cassandra_port);
    if (*held && con_cql_ping(*held, why, sizeof why) == 0) {
        add(list, s, "cassandra", address, true, "ready (CQL OPTIONS)");
        return;
    }
    con_cql_close(*held);
    *held = con_cql_connect(c->conf->cassandra_host, c->conf->cassandra_port,
                            &c->conf->cassandra_login, c->conf->timeout_ms, why, sizeof why);
    add(list, s, "cassandra", address, *held != NULL, *held ? "ready (CQL STARTUP)" : why);
}

/* host:port of an http://host:port/... url, for display. */
static void url_address(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    snprintf(out, outlen, "%.*s", (int)strcspn(p, "/?"), p);
}

void con_upstream_health(con_upstream *u, con_sample *s, bool pg_ok, const char *pg_detail,
                         const char *pg_address, bool kafka_ok, const char *kafka_detail,
                         const char *kafka_address)
{
    const con_upstream_conf *cf = con_upstream_conf_of(u);
    us_buf body = {0};
    check_ctx c = {cf, &body, NULL, NULL};
    char a[160], url[1024];
    json_t *list = json_array();
    add(list, s, "postgres", pg_address, pg_ok, pg_detail);
    add(list, s, "kafka", kafka_address, kafka_ok, kafka_detail);
    snprintf(url, sizeof url, "%s/subjects", cf->registry_url);
    url_address(url, a, sizeof a);
    check_http(&c, list, s, "registry", url, a);
    check_cassandra(&c, list, s, con_upstream_held_cql(u));
    url_address(cf->spark_master_url, a, sizeof a);
    check_spark(&c, list, s, a);
    url_address(cf->airflow_health_url, a, sizeof a);
    check_airflow(&c, list, s, a);
    snprintf(url, sizeof url, "%s%sresults=1&seed=ready", cf->source_url,
             strchr(cf->source_url, '?') ? "&" : "?");
    url_address(url, a, sizeof a);
    check_http(&c, list, s, "source", url, a);
    url_address(cf->relay_health_url, a, sizeof a);
    check_http(&c, list, s, "relay", cf->relay_health_url, a);
    url_address(cf->spark_driver_url, a, sizeof a);
    check_http(&c, list, s, "spark_job", cf->spark_driver_url, a);
    con_sample_detail(s, "health", list);
    json_decref(c.airflow);
    json_decref(c.spark);
    us_buf_free(&body);
}
