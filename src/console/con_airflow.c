/* con_airflow: see con_airflow.h. */
#include "con_airflow.h"
#include "con_fetch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct con_airflow {
    char url[512], pwfile[1024], user[64];
    long timeout_ms;
    pthread_mutex_t lock;
    char token[4096];
};

con_airflow *con_airflow_new(const char *base_url, const char *passwords_file, const char *user,
                             long timeout_ms)
{
    con_airflow *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->url, sizeof a->url, "%s", base_url);
    size_t n = strlen(a->url);
    while (n && a->url[n - 1] == '/')
        a->url[--n] = '\0';
    snprintf(a->pwfile, sizeof a->pwfile, "%s", passwords_file);
    snprintf(a->user, sizeof a->user, "%s", user);
    a->timeout_ms = timeout_ms;
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

void con_airflow_free(con_airflow *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    explicit_bzero(a, sizeof *a);
    free(a);
}

/* The user's password from the 0600 JSON file {"user": "password"}. */
static json_t *login_body(con_airflow *a, char *err, size_t errlen)
{
    struct stat st;
    json_error_t je;
    if (stat(a->pwfile, &st) < 0 || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s: missing, or readable by group or others", a->pwfile);
        return NULL;
    }
    json_t *doc = json_load_file(a->pwfile, 0, &je);
    const char *pw = json_string_value(json_object_get(doc, a->user));
    json_t *body = pw ? json_pack("{s:s,s:s}", "username", a->user, "password", pw) : NULL;
    if (!body)
        snprintf(err, errlen, "%s: no password of user %s", a->pwfile, a->user);
    json_decref(doc);
    return body;
}

static int renew_token(con_airflow *a, us_buf *out, char *err, size_t errlen)
{
    char url[640];
    json_t *body = login_body(a, err, errlen);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return -1;
    snprintf(url, sizeof url, "%s/auth/token", a->url);
    long st =
        con_fetch("POST", url, text, "application/json", NULL, a->timeout_ms, out, err, errlen);
    explicit_bzero(text, strlen(text));
    free(text);
    json_t *doc = st / 100 == 2 ? json_loadb(out->data, out->len, 0, NULL) : NULL;
    const char *tok = json_string_value(json_object_get(doc, "access_token"));
    int rc = tok && strlen(tok) < sizeof a->token ? 0 : -1;
    if (rc == 0)
        snprintf(a->token, sizeof a->token, "%s", tok);
    else if (st > 0)
        snprintf(err, errlen, "Airflow login: HTTP %ld", st);
    json_decref(doc);
    return rc;
}

/* GET path with the token, logging in first or again after a 401. */
static long get(con_airflow *a, const char *path, us_buf *out, char *err, size_t errlen)
{
    char url[1024];
    long st = -1;
    snprintf(url, sizeof url, "%s%s", a->url, path);
    pthread_mutex_lock(&a->lock);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!a->token[0] && renew_token(a, out, err, errlen) < 0)
            break;
        st = con_fetch("GET", url, NULL, NULL, a->token, a->timeout_ms, out, err, errlen);
        if (st != 401)
            break;
        a->token[0] = '\0';
    }
    pthread_mutex_unlock(&a->lock);
    if (st > 0 && st != 200)
        snprintf(err, errlen, "Airflow %s: HTTP %ld", path, st);
    return st;
}

json_t *con_airflow_parse_dags(const char *body, size_t len, char *err, size_t errlen)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *out = json_array(), *d;
    json_t *dags = json_object_get(doc, "dags");
    size_t i;
    if (!json_is_array(dags)) {
        snprintf(err, errlen, "the DAG list is not {\"dags\": [...]}");
        json_decref(doc), json_decref(out);
        return NULL;
    }
    json_array_foreach(dags, i, d)
    {
        const char *id = json_string_value(json_object_get(d, "dag_id"));
        if (id && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                      strlen(id))
            json_array_append_new(out, json_pack("{s:s,s:b}", "dag_id", id, "is_paused",
                                                 json_is_true(json_object_get(d, "is_paused"))));
    }
    json_decref(doc);
    return out;
}

static json_t *str_or_null(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? json_string(v) : json_null();
}

json_t *con_airflow_parse_runs(const char *body, size_t len, char *err, size_t errlen)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *out = json_array(), *r;
    json_t *runs = json_object_get(doc, "dag_runs");
    size_t i;
    if (!json_is_array(runs)) {
        snprintf(err, errlen, "the run list is not {\"dag_runs\": [...]}");
        json_decref(doc), json_decref(out);
        return NULL;
    }
    json_array_foreach(runs, i, r)
    {
        json_t *dur = json_object_get(r, "duration");
        json_array_append_new(
            out, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "run_id", str_or_null(r, "dag_run_id"),
                           "state", str_or_null(r, "state"), "run_type", str_or_null(r, "run_type"),
                           "start_date", str_or_null(r, "start_date"), "end_date",
                           str_or_null(r, "end_date"), "duration",
                           json_is_number(dur) ? json_real(json_number_value(dur)) : json_null()));
    }
    json_decref(doc);
    return out;
}

json_t *con_airflow_runs(con_airflow *a, int limit, char *err, size_t errlen)
{
    us_buf b = {0};
    char path[512];
    json_t *dags = NULL, *d;
    size_t i;
    if (get(a, "/api/v2/dags?limit=100", &b, err, errlen) == 200)
        dags = con_airflow_parse_dags(b.data, b.len, err, errlen);
    json_array_foreach(dags, i, d)
    {
        snprintf(path, sizeof path, "/api/v2/dags/%s/dagRuns?order_by=-start_date&limit=%d",
                 json_string_value(json_object_get(d, "dag_id")), limit);
        char rerr[256] = "";
        json_t *runs = get(a, path, &b, rerr, sizeof rerr) == 200
                           ? con_airflow_parse_runs(b.data, b.len, rerr, sizeof rerr)
                           : NULL;
        json_object_set_new(d, "runs", runs ? runs : json_array());
        json_object_set_new(d, "error", runs ? json_null() : json_string(rerr));
    }
    us_buf_free(&b);
    return dags ? json_pack("{s:o}", "dags", dags) : NULL;
}
