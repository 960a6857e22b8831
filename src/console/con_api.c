/* con_api: see con_api.h. */
#include "con_api.h"
#include "us_log.h"
#include "us_util.h"
#include "us_metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JSON_TYPE "application/json"

bool con_api_guard(us_http_req *req, void *ud)
{
    con_api *api = ud;
    if (con_auth_session_ok(api->auth, us_http_cookie(req, CON_AUTH_COOKIE)))
        return true;
    if (!strncmp(us_http_path(req), "/api/", 5))
        us_http_error(req, 401, "login required (POST /login)");
    else
        us_http_redirect(req, "/login");
    return false;
}

bool con_api_safe_name(const char *name)
{
    if (!name[0] || name[0] == '.' || strlen(name) > 128)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

static const char *content_type(const char *name)
{
    static const char *const types[][2] = {{".html", "text/html; charset=utf-8"},
                                           {".css", "text/css; charset=utf-8"},
                                           {".js", "text/javascript; charset=utf-8"},
                                           {".svg", "image/svg+xml"},
                                           {".json", JSON_TYPE},
                                           {".png", "image/png"},
                                           {".ico", "image/x-icon"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i][0]))
            return types[i][1];
    return "application/octet-stream";
}

static void serve_from(us_http_req *req, const char *dir, const char *name)
{
    char path[2048];
    if (!dir || !con_api_safe_name(name))
        return us_http_error(req, 404, "no such file");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    us_http_reply_file(req, path, content_type(name));
}

static void on_static(us_http_req *req, void *ud)
{
    con_api *api = ud;
    serve_from(req, api->web_dir, us_http_path(req) + strlen("/static/"));
}

static void on_uplot(us_http_req *req, void *ud)
{
    con_api *api = ud;
    serve_from(req, api->uplot_dir, us_http_path(req) + strlen("/vendor/uplot/"));
}

static void on_index(us_http_req *req, void *ud)
{
    serve_from(req, ((con_api *)ud)->web_dir, "index.html");
}

static void on_login_page(us_http_req *req, void *ud)
{
    serve_from(req, ((con_api *)ud)->web_dir, "login.html");
}

/* The password from a form body (password=...) or a JSON one ({"password"}). */
static int login_password(us_http_req *req, char *out, size_t outlen)
{
    size_t len;
    const char *body = us_http_body(req, &len);
    const char *type = us_http_header(req, "Content-Type");
    char err[128];
    if (type && !strncmp(type, "application/json", 16)) {
        json_t *doc = json_loadb(body, len, 0, NULL);
        const char *p = json_string_value(json_object_get(doc, "password"));
        int rc = p && strlen(p) < outlen ? (snprintf(out, outlen, "%s", p), 0) : -1;
        json_decref(doc);
        return rc;
    }
    return us_http_query_get(body, "password", out, outlen, err, sizeof err) == 1 ? 0 : -1;
}

static void on_login(us_http_req *req, void *ud)
{
    con_api *api = ud;
    char password[256], id[CON_AUTH_ID_HEX + 1], cookie[256];
    if (login_password(req, password, sizeof password) < 0)
        return us_http_error(req, 400, "send password=... (form) or {\"password\": ...} (JSON)");
    bool ok = con_auth_password_ok(api->auth, password);
    explicit_bzero(password, sizeof password);
    if (!ok) {
        /* Slows guessing; each connection has its own thread, so only the
         * guesser waits. */
        usleep((useconds_t)api->login_delay_ms * 1000);
        us_warn("login refused: wrong password");
        return us_http_error(req, 401, "wrong password");
    }
    if (con_auth_session_new(api->auth, id, sizeof id) < 0)
        return us_http_error(req, 500, "no randomness for a session id");
    snprintf(cookie, sizeof cookie, "%s=%s; HttpOnly; SameSite=Strict; Path=/", CON_AUTH_COOKIE,
             id);
    us_http_add_header(req, "Set-Cookie", cookie);
    us_info("login: new session");
    us_http_reply(req, 200, JSON_TYPE, "{\"ok\":true}\n", 12);
}

static void on_logout(us_http_req *req, void *ud)
{
    con_api *api = ud;
    con_auth_session_end(api->auth, us_http_cookie(req, CON_AUTH_COOKIE));
    us_http_add_header(req, "Set-Cookie",
                       CON_AUTH_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    us_http_reply(req, 200, JSON_TYPE, "{\"ok\":true}\n", 12);
}

static bool no_params(us_http_req *req)
{
    char err[256];
    static const char *const none[] = {NULL};
    if (us_http_query_check(us_http_query(req), none, err, sizeof err) == 0)
        return true;
    us_http_error(req, 400, "%s", err);
    return false;
}

static void on_pipeline(us_http_req *req, void *ud)
{
    size_t len;
    if (no_params(req)) {
        char *p = con_collect_pipeline(((con_api *)ud)->collect, &len);
        us_http_reply_take(req, 200, JSON_TYPE, p, len);
    }
}

/* ?fresh=1: numbers measured after the request came (what `./userstream
 * counts` asks for); else the latest round's. */
static void on_counts(us_http_req *req, void *ud)
{
    static const char *const allowed[] = {"fresh", NULL};
    char err[256];
    long fresh;
    size_t len;
    const char *q = us_http_query(req);
    if (us_http_query_check(q, allowed, err, sizeof err) < 0 ||
        us_http_query_long(q, "fresh", 0, 1, 0, &fresh, err, sizeof err) < 0)
        return us_http_error(req, 400, "%s", err);
    con_collect *c = ((con_api *)ud)->collect;
    char *p = fresh ? con_collect_fresh_counts(c, 300, &len) : con_collect_counts(c, &len);
    if (!p)
        return us_http_error(req, 504, "no fresh round within 300 s");
    us_http_reply_take(req, 200, JSON_TYPE, p, len);
}

static void on_health(us_http_req *req, void *ud)
{
    size_t len;
    if (no_params(req)) {
        char *p = con_collect_health(((con_api *)ud)->collect, &len);
        us_http_reply_take(req, 200, JSON_TYPE, p, len);
    }
}

#define HISTORY_MAX_METRICS 8

/* Splits "a,b" into names; -1 with the reason. */
static int history_names(const char *list, char names[][CON_RING_NAME_MAX], size_t *n, char *err,
                         size_t errlen)
{
    *n = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        if (!len || len >= CON_RING_NAME_MAX || *n >= HISTORY_MAX_METRICS) {
            snprintf(err, errlen,
                     "metric must be 1 to %d names of up to %d characters, comma-separated",
                     HISTORY_MAX_METRICS, CON_RING_NAME_MAX - 1);
            return -1;
        }
        snprintf(names[(*n)++], CON_RING_NAME_MAX, "%.*s", (int)len, p);
        p += len;
        if (!*p)
            return 0;
    }
}

static void put_series(us_buf *b, const double *v, size_t n)
{
    us_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            us_buf_puts(b, ",");
        if (isfinite(v[i]))
            us_buf_printf(b, "%.15g", v[i]);
        else
            us_buf_puts(b, "null");
    }
    us_buf_puts(b, "]");
}

static void on_history(us_http_req *req, void *ud)
{
    con_api *api = ud;
    static const char *const allowed[] = {"metric", "seconds", NULL};
    char err[256], list[512], names[HISTORY_MAX_METRICS][CON_RING_NAME_MAX];
    const char *q = us_http_query(req);
    long seconds;
    size_t n;
    if (us_http_query_check(q, allowed, err, sizeof err) < 0 ||
        us_http_query_long(q, "seconds", 1, (long)con_ring_seconds(api->ring), 300, &seconds, err,
                           sizeof err) < 0)
        return us_http_error(req, 400, "%s", err);
    int rc = us_http_query_get(q, "metric", list, sizeof list, err, sizeof err);
    if (rc <= 0)
        return us_http_error(req, 400, "%s", rc < 0 ? err : "metric=NAME[,NAME...] is required");
    if (history_names(list, names, &n, err, sizeof err) < 0)
        return us_http_error(req, 400, "%s", err);
    double *v = malloc((size_t)seconds * sizeof *v);
    if (!v)
        return us_http_error(req, 500, "out of memory");
    int64_t end = time(NULL) - 1; /* the newest complete second */
    us_buf b = {0};
    us_buf_printf(&b, "{\"start\":%lld,\"end\":%lld,\"step\":1,\"series\":{",
                  (long long)(end - seconds + 1), (long long)end);
    for (size_t i = 0; i < n; i++) {
        if (con_ring_get(api->ring, names[i], end, (size_t)seconds, v) < 0) {
            free(v);
            us_buf_free(&b);
            return us_http_error(
                req, 400, "unknown metric \"%s\" (see \"metrics\" in /api/pipeline)", names[i]);
        }
        us_buf_printf(&b, "%s\"%s\":", i ? "," : "", names[i]);
        put_series(&b, v, (size_t)seconds);
    }
    us_buf_puts(&b, "}}\n");
    free(v);
    size_t len;
    char *body = us_buf_steal(&b, &len);
    if (!body)
        return us_http_error(req, 500, "out of memory");
    us_http_reply_take(req, 200, JSON_TYPE, body, len);
}

static void on_metrics(us_http_req *req, void *ud)
{
    con_api *api = ud;
    if (!con_auth_bearer_ok(api->auth, us_http_header(req, "Authorization")) &&
        !con_auth_session_ok(api->auth, us_http_cookie(req, CON_AUTH_COOKIE))) {
        us_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"userstream-console\"");
        return us_http_error(req, 401,
                             "a bearer token (console-metrics-token) or a session is required");
    }
    us_buf b = {0};
    con_collect_metrics(api->collect, &b);
    if (api->http)
        us_http_write_metrics(api->http, &b, "userstream_console");
    size_t len;
    char *body = us_buf_steal(&b, &len);
    if (!body)
        return us_http_error(req, 500, "out of memory");
    us_http_reply_take(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

#ifdef CON_WITH_KAFKA
#include "con_api_kafka.inc"
#endif

#include "con_airflow.h"

/* The last runs of every DAG (?runs=N, 1-25, default 5). */
static void on_airflow(us_http_req *req, void *ud)
{
    static const char *const allowed[] = {"runs", NULL};
    con_api *api = ud;
    char err[512] = "";
    long runs;
    const char *q = us_http_query(req);
    if (us_http_query_check(q, allowed, err, sizeof err) < 0 ||
        us_http_query_long(q, "runs", 1, 25, 5, &runs, err, sizeof err) < 0)
        return us_http_error(req, 400, "%s", err);
    json_t *doc = api->airflow ? con_airflow_runs(api->airflow, (int)runs, err, sizeof err) : NULL;
    if (!doc)
        return us_http_error(req, 502, "airflow: %s", err[0] ? err : "not configured");
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!body)
        return us_http_error(req, 500, "out of memory");
    us_http_reply_take(req, 200, JSON_TYPE, body, strlen(body));
}

const us_http_route *con_api_routes(con_api *api, size_t *n)
{
    static us_http_route routes[32];
    const us_http_route base[] = {
        {"GET", "/", false, true, on_index, api},
        {"GET", "/login", false, false, on_login_page, api},
        {"POST", "/login", false, false, on_login, api},
        {"POST", "/logout", false, false, on_logout, api},
        {"GET", "/static/", true, false, on_static, api},
        {"GET", "/vendor/uplot/", true, false, on_uplot, api},
        {"GET", "/api/pipeline", false, true, on_pipeline, api},
        {"GET", "/api/counts", false, true, on_counts, api},
        {"GET", "/api/health", false, true, on_health, api},
        {"GET", "/api/history", false, true, on_history, api},
        {"GET", "/metrics", false, false, on_metrics, api},
        {"GET", "/api/airflow", false, true, on_airflow, api},
    };
    size_t k = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        routes[k++] = base[i];
#ifdef CON_WITH_KAFKA
    k = con_api_kafka_routes(api, routes, k, sizeof routes / sizeof routes[0]);
#endif
    *n = k;
    return routes;
}
