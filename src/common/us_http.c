/* us_http: see us_http.h. */
#include "us_http.h"
#include "us_err.h"
#include "us_log.h"
#include "us_time.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Default longest request head: a longer one gets libmicrohttpd's 431/414. */
#define CONNECTION_MEMORY (32 * 1024)
#define MAX_HEADERS 8
/* How long us_http_stop waits for replies in progress (delayed ones
 * included) to be sent before it closes every connection. */
#define DRAIN_TIMEOUT_MS 10000

/* Sent on every reply unless the program names its own base headers. */
static const char *const security_headers[] = {
    "Cache-Control",
    "no-store",
    "X-Content-Type-Options",
    "nosniff",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    "Content-Security-Policy",
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    NULL,
};

struct us_http {
    struct MHD_Daemon *d;
    us_http_config cfg;
    us_http_opts opts;
    const us_http_route *routes;
    size_t n_routes;
    atomic_ullong answered[6];
    atomic_ullong completed; /* requests MHD is done with, for max_requests */
    /* Requests dispatched and not yet completed: once its handler was
     * called, MHD calls on_completed for a request in every case. */
    atomic_long active;
    /* Delayed replies: soonest first (thread pool); and the stop flag. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t timer;
    bool timer_started;
    us_http_req *timers;
    bool stopping;
};

struct us_http_req {
    us_http *h;
    struct MHD_Connection *conn;
    char *target; /* raw, as sent: path?query */
    const char *path, *query;
    const char *method;
    us_buf body;
    bool seen, too_large, replied, suspended;
    bool busy; /* dispatched: counted in h->active until completed */
    char *hdr_name[MAX_HEADERS], *hdr_value[MAX_HEADERS];
    int n_hdr;
    /* The reply, built and not yet handed to MHD (it may be delayed). */
    struct MHD_Response *resp;
    unsigned status; /* set with resp: 0 until a reply is built */
    unsigned delay_ms;
    int64_t due_ms;
    us_http_req *next_timer;
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

const char *us_http_client(const us_http_req *r, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (outlen)
        out[0] = '\0';
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in),
                    out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
    return out;
}

void us_http_delay(us_http_req *r, unsigned ms)
{
    r->delay_ms = ms;
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

static void add_header(struct MHD_Response *resp, const char *name, const char *value)
{
    if (MHD_add_response_header(resp, name, value) != MHD_YES)
        us_warn("http: could not add header %s", name);
}

/* Keeps resp, with the base headers, Content-Type and the handler's, as the
 * request's reply; on_request hands it to MHD (now or when due). Every reply
 * ends here. */
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
    const char *const *base = r->h->opts.base_headers ? r->h->opts.base_headers : security_headers;
    for (; base[0] && base[1]; base += 2)
        add_header(resp, base[0], base[1]);
    if (type)
        add_header(resp, "Content-Type", type);
    for (int i = 0; i < r->n_hdr; i++)
        add_header(resp, r->hdr_name[i], r->hdr_value[i]);
    r->resp = resp;
    r->status = status;
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
    us_http *h = cls;
    us_http_req *r = *con_cls;
    if (r) {
        if (r->busy) /* dispatched: it counted as active */
            atomic_fetch_sub(&h->active, 1);
        if (r->resp)
            MHD_destroy_response(r->resp); /* closed while delayed */
        for (int i = 0; i < r->n_hdr; i++) {
            free(r->hdr_name[i]);
            free(r->hdr_value[i]);
        }
        us_buf_free(&r->body);
        free(r->target);
        free(r);
        *con_cls = NULL;
    }
    unsigned long long n = atomic_fetch_add(&h->completed, 1) + 1;
    if (h->opts.max_requests && n == h->opts.max_requests && h->opts.on_max_requests)
        h->opts.on_max_requests(h->opts.max_requests_ud);
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
        if (!rt->method || !strcmp(rt->method, method) || (head && !strcmp(rt->method, "GET")))
            return rt;
    }
    return NULL;
}

/* Routes first: a route for every target answers /health itself. */
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
    const us_http_route *rt = find_route(h, r->path, r->method, &known);
    if (rt) {
        if (rt->guarded && h->cfg.guard && !h->cfg.guard(r, h->cfg.guard_ud))
            return;
        rt->fn(r, rt->ud);
        if (!r->replied)
            us_http_error(r, 500, "the handler gave no answer");
        return;
    }
    if (!strcmp(r->path, "/health") && (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")))
        return us_http_reply(r, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
    if (r->path[0] != '/')
        return us_http_error(r, 400, "the request target must start with '/'");
    if (known)
        return us_http_error(r, 405, "method %s not allowed here", r->method);
    us_http_error(r, 404, "no such path");
}

/* Hands the reply to MHD. */
static enum MHD_Result send_reply(us_http_req *r)
{
    struct MHD_Response *resp = r->resp;
    r->resp = NULL;
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The timer thread of a pool: resumes each delayed connection when due, and
 * all of them when stopping. */
static void *timer_main(void *arg)
{
    us_http *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        int64_t now = us_mono_ms();
        while (h->timers && (h->timers->due_ms <= now || h->stopping)) {
            us_http_req *r = h->timers;
            h->timers = r->next_timer;
            MHD_resume_connection(r->conn);
        }
        if (h->stopping)
            break;
        if (!h->timers) {
            pthread_cond_wait(&h->wake, &h->lock);
            continue;
        }
        struct timespec ts = us_mono_after_ms(h->timers->due_ms - now);
        pthread_cond_timedwait(&h->wake, &h->lock, &ts);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* Holds r's reply until it is due: in a pool the connection is suspended
 * (the timer thread resumes it; true), with a thread per connection that
 * thread waits. False when the reply goes out now (due, or stopping). */
static bool hold(us_http_req *r)
{
    us_http *h = r->h;
    int64_t due = us_mono_ms() + r->delay_ms;
    pthread_mutex_lock(&h->lock);
    if (h->opts.threads == 0) {
        int64_t now;
        while (!h->stopping && (now = us_mono_ms()) < due) {
            struct timespec ts = us_mono_after_ms(due - now);
            pthread_cond_timedwait(&h->wake, &h->lock, &ts);
        }
    } else if (!h->stopping) {
        MHD_suspend_connection(r->conn);
        r->suspended = true;
        r->due_ms = due;
        us_http_req **p = &h->timers;
        while (*p && (*p)->due_ms <= due)
            p = &(*p)->next_timer;
        r->next_timer = *p;
        *p = r;
        pthread_cond_signal(&h->wake);
    }
    pthread_mutex_unlock(&h->lock);
    return r->suspended;
}

/* MHD calls this once with the head, once per piece of body, once at the
 * end (then the reply is due), and once more after a resume. */
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
    if (r->suspended)
        return send_reply(r); /* resumed: the delayed reply is due */
    if (*upload_len) {
        if (!h->opts.discard_body && r->body.len + *upload_len > h->cfg.max_body)
            r->too_large = true;
        else if (!h->opts.discard_body)
            us_buf_put(&r->body, upload, *upload_len);
        *upload_len = 0; /* read (and dropped when discarding) */
        return MHD_YES;
    }
    if (r->body.oom)
        return MHD_NO;
    /* Active from here, not from when the reply is built: a stop that comes
     * while the handler still computes the answer waits for it too. */
    r->busy = true;
    atomic_fetch_add(&h->active, 1);
    dispatch(r);
    if (!r->resp)
        return MHD_NO;
    if (r->delay_ms > 0 && hold(r))
        return MHD_YES;
    return send_reply(r);
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

__attribute__((format(printf, 2, 0))) static void on_mhd_error(void *cls, const char *fmt,
                                                               va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    us_info("libmicrohttpd: %s", line); /* e.g. a client gone mid-answer */
}

static int start_daemon(us_http *h, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    const us_http_config *c = &h->cfg;
    const us_http_opts *o = &h->opts;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     (ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    flags |= o->threads ? MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME : MHD_USE_THREAD_PER_CONNECTION;
    if (o->threads) {
        if (pthread_create(&h->timer, NULL, timer_main, h) != 0)
            return us_errf(err, errlen, "cannot start the HTTP timer thread");
        h->timer_started = true;
    }
    /* The pool size only with a pool (MHD warns about a size of 0). */
    struct MHD_OptionItem pool[] = {{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)o->threads, NULL},
                                    {MHD_OPTION_END, 0, NULL}};
    h->d = MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)ss, MHD_OPTION_ARRAY, o->threads ? pool : pool + 1,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, h, MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->max_head,
                            MHD_OPTION_CONNECTION_TIMEOUT, c->timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, c->max_connections, MHD_OPTION_END);
    if (!h->d)
        return us_errf(err, errlen,
                       "cannot listen on %s:%d (in use, or not an address of this host)", c->bind,
                       c->port);
    return 0;
}

us_http *us_http_start(const us_http_config *cfg, const us_http_route *routes, size_t n_routes,
                       char *err, size_t errlen)
{
    return us_http_start_opts(cfg, NULL, routes, n_routes, err, errlen);
}

us_http *us_http_start_opts(const us_http_config *cfg, const us_http_opts *opts,
                            const us_http_route *routes, size_t n_routes, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    if (cfg->port < 0 || cfg->port > 65535)
        return us_errp(err, errlen, "port %d is not in 0-65535", cfg->port);
    if (make_addr(cfg->bind, cfg->port, &ss, err, errlen) < 0)
        return NULL;
    us_http *h = calloc(1, sizeof *h);
    if (!h)
        return us_errp(err, errlen, "out of memory");
    h->cfg = *cfg;
    h->cfg.max_connections = cfg->max_connections ? cfg->max_connections : 64;
    h->cfg.timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
    h->cfg.max_body = cfg->max_body ? cfg->max_body : 16 * 1024;
    if (opts)
        h->opts = *opts;
    h->opts.max_head = h->opts.max_head ? h->opts.max_head : CONNECTION_MEMORY;
    h->routes = routes;
    h->n_routes = n_routes;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (start_daemon(h, &ss, err, errlen) < 0) {
        us_http_stop(h);
        return NULL;
    }
    return h;
}

int us_http_port(const us_http *h)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}

/* Waits until the replies in progress are sent (or DRAIN_TIMEOUT_MS). */
static void drain(us_http *h)
{
    int64_t deadline = us_mono_ms() + DRAIN_TIMEOUT_MS;
    while (atomic_load(&h->active) > 0 && us_mono_ms() < deadline) {
        struct timespec pause = {0, 10 * 1000000};
        nanosleep(&pause, NULL);
    }
    if (atomic_load(&h->active) > 0)
        us_warn("http: stopping with %ld request(s) still in progress after %d ms",
                atomic_load(&h->active), DRAIN_TIMEOUT_MS);
}

void us_http_stop(us_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true; /* every delayed reply goes out now */
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    if (h->timer_started)
        pthread_join(h->timer, NULL);
    if (h->d) {
        drain(h);
        MHD_stop_daemon(h->d);
    }
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
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
