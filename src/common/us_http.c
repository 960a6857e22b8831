/* us_http: see us_http.h. */
#include "us_http.h"
#include "us_err.h"
#include "us_log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest request head accepted: a longer one gets libmicrohttpd's 431/414. */
#define CONNECTION_MEMORY (32 * 1024)
#define MAX_HEADERS 8

struct us_http {
    struct MHD_Daemon *d;
    us_http_config cfg;
    const us_http_route *routes;
    size_t n_routes;
    atomic_ullong answered[6];
};

struct us_http_req {
    us_http *h;
    struct MHD_Connection *conn;
    char *target; /* raw, as sent: path?query */
    const char *path, *query;
    const char *method;
    us_buf body;
    bool seen, too_large, replied;
    char *hdr_name[MAX_HEADERS], *hdr_value[MAX_HEADERS];
    int n_hdr;
};

const char *us_http_method(const us_http_req *r)
{
    return r->method;
}

const char *us_http_path(const us_http_req *r)
{
    return r->path;
}

const char *us_http_query(const us_http_req *r)
{
    return r->query;
}

const char *us_http_header(const us_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *us_http_cookie(const us_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

const char *us_http_body(const us_http_req *r, size_t *len)
{
    *len = r->body.len;
    return us_buf_str(&r->body);
}

void us_http_add_header(us_http_req *r, const char *name, const char *value)
{
    if (r->n_hdr >= MAX_HEADERS)
        return;
    r->hdr_name[r->n_hdr] = strdup(name);
    r->hdr_value[r->n_hdr] = strdup(value);
    if (r->hdr_name[r->n_hdr] && r->hdr_value[r->n_hdr])
        r->n_hdr++;
}

static void count(us_http *h, unsigned status)
{
    unsigned cls = status / 100;
    atomic_fetch_add(&h->answered[cls < 6 ? cls : 5], 1);
}

/* Queues resp with the common headers; every reply ends here. */
static void queue(us_http_req *r, unsigned status, struct MHD_Response *resp, const char *type)
{
    if (r->replied) {
        if (resp)
            MHD_destroy_response(resp);
        return;
    }
    r->replied = true;
    if (!resp) {
        us_error("http: out of memory building a response");
        return;
    }
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    for (int i = 0; i < r->n_hdr; i++)
        MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
    MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    count(r->h, status);
}

void us_http_reply(us_http_req *r, unsigned status, const char *type, const void *body, size_t len)
{
    queue(r, status, MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY),
          type);
}

void us_http_reply_take(us_http_req *r, unsigned status, const char *type, char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp)
        free(body);
    queue(r, status, resp, type);
}

void us_http_error(us_http_req *r, unsigned status, const char *fmt, ...)
{
    char msg[512];
    us_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    us_buf_puts(&b, "{\"error\":\"");
    us_json_escape(&b, msg);
    us_buf_puts(&b, "\"}\n");
    size_t len;
    char *body = us_buf_steal(&b, &len);
    us_http_reply_take(r, status, "application/json", body, len);
}

void us_http_reply_file(us_http_req *r, const char *path, const char *type)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        us_http_error(r, 404, "not found");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp)
        close(fd);
    queue(r, 200, resp, type);
}

void us_http_redirect(us_http_req *r, const char *location)
{
    us_http_add_header(r, "Location", location);
    us_http_reply(r, 303, "text/plain", "", 0);
}

/* Keeps the raw target; hides the query from libmicrohttpd (see us_http.h):
 * the URI points into its read buffer, which it cuts at '?' itself next. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    us_http_req *r = calloc(1, sizeof *r);
    if (r) {
        r->h = cls;
        r->conn = conn;
        r->target = strdup(uri ? uri : "");
    }
    char *q = uri ? strchr(uri, '?') : NULL;
    if (q)
        q[1] = '\0';
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    us_http_req *r = *con_cls;
    if (!r)
        return;
    for (int i = 0; i < r->n_hdr; i++) {
        free(r->hdr_name[i]);
        free(r->hdr_value[i]);
    }
    us_buf_free(&r->body);
    free(r->target);
    free(r);
    *con_cls = NULL;
}

static const us_http_route *find_route(us_http *h, const char *path, const char *method,
                                       bool *path_known)
{
    bool head = !strcmp(method, "HEAD");
    *path_known = false;
    for (size_t i = 0; i < h->n_routes; i++) {
        const us_http_route *rt = &h->routes[i];
        bool match =
            rt->prefix ? !strncmp(path, rt->path, strlen(rt->path)) : !strcmp(path, rt->path);
        if (!match)
            continue;
        *path_known = true;
        if (!strcmp(rt->method, method) || (head && !strcmp(rt->method, "GET")))
            return rt;
    }
    return NULL;
}

static void dispatch(us_http_req *r)
{
    us_http *h = r->h;
    bool known;
    char *q = strchr(r->target, '?');
    if (q)
        *q++ = '\0';
    r->path = r->target;
    r->query = q ? q : "";
    if (r->too_large)
        return us_http_error(r, 413, "request body over %zu bytes", h->cfg.max_body);
    if (r->path[0] != '/')
        return us_http_error(r, 400, "the request target must start with '/'");
    if (!strcmp(r->path, "/health") && (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")))
        return us_http_reply(r, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
    const us_http_route *rt = find_route(h, r->path, r->method, &known);
    if (!rt) {
        if (known)
            return us_http_error(r, 405, "method %s not allowed here", r->method);
        return us_http_error(r, 404, "no such path");
    }
    if (rt->guarded && h->cfg.guard && !h->cfg.guard(r, h->cfg.guard_ud))
        return;
    rt->fn(r, rt->ud);
    if (!r->replied)
        us_http_error(r, 500, "the handler gave no answer");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **con_cls)
{
    us_http *h = cls;
    us_http_req *r = *con_cls;
    if (!r)
        return MHD_NO; /* out of memory in on_uri: drop the connection */
    if (!r->seen) {
        r->seen = true;
        r->method = method;
        return MHD_YES;
    }
    if (*upload_len) {
        if (r->body.len + *upload_len > h->cfg.max_body)
            r->too_large = true;
        else
            us_buf_put(&r->body, upload, *upload_len);
        *upload_len = 0;
        return MHD_YES;
    }
    if (r->body.oom)
        return MHD_NO;
    dispatch(r);
    return r->replied ? MHD_YES : MHD_NO;
}

static int make_addr(const char *bind, int port, struct sockaddr_storage *ss, char *err,
                     size_t errlen)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, bind, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, bind, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return us_errf(err, errlen, "listen address \"%s\" is not a numeric IPv4 or IPv6 address",
                   bind);
}

us_http *us_http_start(const us_http_config *cfg, const us_http_route *routes, size_t n_routes,
                       char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    if (cfg->port <= 0 || cfg->port > 65535)
        return us_errp(err, errlen, "port %d is not in 1-65535", cfg->port);
    if (make_addr(cfg->bind, cfg->port, &ss, err, errlen) < 0)
        return NULL;
    us_http *h = calloc(1, sizeof *h);
    if (!h)
        return us_errp(err, errlen, "out of memory");
    h->cfg = *cfg;
    h->cfg.max_connections = cfg->max_connections ? cfg->max_connections : 64;
    h->cfg.timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
    h->cfg.max_body = cfg->max_body ? cfg->max_body : 16 * 1024;
    h->routes = routes;
    h->n_routes = n_routes;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_CONNECTION_LIMIT, h->cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, h->cfg.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on %s:%d (in use, or not an address of this host)",
                 cfg->bind, cfg->port);
        free(h);
        return NULL;
    }
    return h;
}

void us_http_stop(us_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}

void us_http_counts(const us_http *h, unsigned long long out[6])
{
    for (int i = 0; i < 6; i++)
        out[i] = atomic_load(&((us_http *)h)->answered[i]);
}

void us_http_write_metrics(const us_http *h, us_buf *b, const char *prefix)
{
    unsigned long long n[6];
    char name[128], code[8];
    us_http_counts(h, n);
    snprintf(name, sizeof name, "%s_http_requests_total", prefix);
    us_buf_printf(b, "# HELP %s HTTP requests answered, by status class.\n# TYPE %s counter\n",
                  name, name);
    for (int i = 1; i < 6; i++) {
        snprintf(code, sizeof code, "%dxx", i);
        us_buf_printf(b, "%s{code=\"%s\"} %llu\n", name, code, n[i]);
    }
}
