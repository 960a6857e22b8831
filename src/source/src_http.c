#include "src_http.h"
#include "us_err.h"
#include "us_log.h"
#include "us_time.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest request head accepted; a longer target gets MHD's 414. */
#define CONNECTION_MEMORY (64 * 1024)
#define CONNECTION_TIMEOUT_S 60
#define MAX_CONNECTIONS 1024
/* How long src_http_stop waits for requests in progress (delayed answers
 * included) to be sent before it closes every connection. */
#define DRAIN_TIMEOUT_MS 10000

/* Per-request state (MHD's con_cls): the raw target, and the response while
 * the connection is suspended for a slow answer. */
typedef struct req_state {
    char *target;
    src_response resp;
    bool seen;  /* the handler was called once: the request head is read */
    bool ready; /* resp holds an answer to send */
    struct req_state *next_timer;
    int64_t due_ms;
    struct MHD_Connection *conn;
} req_state;

struct src_http {
    struct MHD_Daemon *daemon;
    src_api *api;
    src_http_config cfg;
    atomic_long answered;
    /* Answers computed and not yet completed: once MHD has called the
     * handler, it calls on_completed for that request in every case. */
    atomic_long active;
    /* Delayed answers, soonest first. */
    pthread_t timer;
    bool timer_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    req_state *timers;
    bool stopping;
};

/* Keeps the raw request target (src_qs parses the query), then hides the
 * query from MHD: libmicrohttpd 0.9.75 stores every GET argument in the
 * connection's memory pool and, when a query has more arguments than fit
 * (a few thousand), leaves the connection hanging without an answer. The
 * URI points into MHD's own read buffer, which MHD modifies itself next
 * (it writes '\0' over the '?'); we end the argument string there too. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    req_state *st = calloc(1, sizeof *st);
    if (st) {
        st->target = strdup(uri ? uri : "");
        st->conn = conn;
    }
    char *q = uri ? strchr(uri, '?') : NULL;
    if (q)
        q[1] = '\0';
    return st;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    src_http *h = cls;
    req_state *st = *con_cls;
    if (st) {
        if (st->ready)
            atomic_fetch_sub(&h->active, 1);
        src_response_free(&st->resp);
        free(st->target);
        free(st);
        *con_cls = NULL;
    }
    long n = atomic_fetch_add(&h->answered, 1) + 1;
    if (h->cfg.max_requests > 0 && n == h->cfg.max_requests && h->cfg.on_done)
        h->cfg.on_done();
}

static void *timer_main(void *arg)
{
    src_http *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        int64_t now = us_mono_ms();
        while (h->timers && (h->timers->due_ms <= now || h->stopping)) {
            req_state *st = h->timers;
            h->timers = st->next_timer;
            MHD_resume_connection(st->conn);
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

/* Suspends the connection until delay_ms from now; false when stopping
 * (answer at once then, nobody would resume it). */
static bool delay(src_http *h, req_state *st, int delay_ms)
{
    st->due_ms = us_mono_ms() + delay_ms;
    pthread_mutex_lock(&h->lock);
    if (h->stopping) {
        pthread_mutex_unlock(&h->lock);
        return false;
    }
    MHD_suspend_connection(st->conn);
    req_state **p = &h->timers;
    while (*p && (*p)->due_ms <= st->due_ms)
        p = &(*p)->next_timer;
    st->next_timer = *p;
    *p = st;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    return true;
}

static void add_header(struct MHD_Response *r, const char *k, const char *v)
{
    if (MHD_add_response_header(r, k, v) != MHD_YES)
        us_warn("could not add header %s", k);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, src_response *resp)
{
    struct MHD_Response *r;
    if (resp->body) {
        r = MHD_create_response_from_buffer_with_free_callback(resp->body_len, resp->body, free);
        resp->body = NULL; /* MHD owns it now */
    } else {
        r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    add_header(r, "Access-Control-Allow-Origin", "*");
    if (resp->preflight) {
        const char *asked =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Headers");
        add_header(r, "Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
        add_header(r, "Vary", "Access-Control-Request-Headers");
        if (asked)
            add_header(r, "Access-Control-Allow-Headers", asked);
    }
    if (resp->content_type)
        add_header(r, "Content-Type", resp->content_type);
    if (resp->status == 200)
        add_header(r, "Cache-Control", "no-cache");
    if (resp->filename) {
        char cd[96];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", resp->filename);
        add_header(r, "Content-Disposition", cd);
    }
    if (resp->fault != SRC_FAULT_NONE)
        add_header(r, "X-Userstream-Fault", src_fault_name(resp->fault));
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* First of cf-connecting-ip, x-real-ip, x-forwarded-for (upstream's order). */
static const char *forwarded_for(struct MHD_Connection *conn)
{
    static const char *const names[] = {"cf-connecting-ip", "x-real-ip", "x-forwarded-for"};
    for (int i = 0; i < 3; i++) {
        const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, names[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in),
                    out, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
}

static void answer(src_http *h, struct MHD_Connection *conn, const char *method, req_state *st)
{
    char client[INET6_ADDRSTRLEN + 1];
    const char *target = st->target;
    const char *q = strchr(target, '?');
    size_t path_n = q ? (size_t)(q - target) : strlen(target);
    client_address(conn, client, sizeof client);
    src_http_request req = {.method = method,
                            .path = target,
                            .path_n = path_n,
                            .query = q ? q + 1 : NULL,
                            .query_n = q ? strlen(q + 1) : 0,
                            .client = client,
                            .forwarded = forwarded_for(conn)};
    src_api_handle(h->api, &req, &st->resp);
    st->ready = true;
    atomic_fetch_add(&h->active, 1);
    us_debug("%s %.200s -> %d (%ld users, fault %s)", method, target, st->resp.status,
             st->resp.users, src_fault_name(st->resp.fault));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    src_http *h = cls;
    req_state *st = *con_cls;
    if (!st)
        return MHD_NO; /* out of memory in on_uri */
    /* Answer once the whole request is in (a body, if any, is skipped):
     * answering from the first call would make MHD close the connection. */
    if (!st->seen || *upload_data_size) {
        st->seen = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!st->ready) {
        answer(h, conn, method, st);
        if (st->resp.delay_ms > 0) {
            int ms = st->resp.delay_ms;
            st->resp.delay_ms = 0;
            if (delay(h, st, ms))
                return MHD_YES;
        }
    }
    return send_response(conn, &st->resp);
}

static int bind_address(const char *host, int port, struct sockaddr_storage *ss, bool *v6,
                        char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0 || !ai)
        return us_errf(err, errlen, "bind address \"%s\": %s (a numeric IPv4 or IPv6 address)",
                       host, gai_strerror(rc));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return 0;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_error(void *cls, const char *fmt,
                                                               va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    us_info("libmicrohttpd: %s", line); /* e.g. a client gone mid-answer */
}

src_http *src_http_start(src_api *api, const src_http_config *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    bool v6;
    if (bind_address(cfg->bind, cfg->port, &ss, &v6, err, errlen) < 0)
        return NULL;
    src_http *h = calloc(1, sizeof *h);
    if (!h)
        return us_errp(err, errlen, "out of memory");
    h->api = api;
    h->cfg = *cfg;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&h->timer, NULL, timer_main, h) != 0) {
        snprintf(err, errlen, "cannot start the timer thread");
        goto fail;
    }
    h->timer_started = true;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_error, h, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->threads, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s port %d (in use, or not an address here?)",
                 cfg->bind, cfg->port);
        goto fail;
    }
    return h;
fail:
    src_http_stop(h);
    return NULL;
}

int src_http_port(const src_http *h)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}

void src_http_stop(src_http *h)
{
    if (!h)
        return;
    if (h->timer_started) {
        pthread_mutex_lock(&h->lock);
        h->stopping = true; /* the timer resumes every delayed connection */
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->timer, NULL);
    }
    if (h->daemon) {
        /* Let the answers in progress (the resumed delayed ones too) go out
         * before MHD closes every connection: a client that was promised an
         * answer gets it, unless it takes longer than the drain timeout. */
        int64_t deadline = us_mono_ms() + DRAIN_TIMEOUT_MS;
        while (atomic_load(&h->active) > 0 && us_mono_ms() < deadline) {
            struct timespec pause = {0, 10 * 1000000};
            nanosleep(&pause, NULL);
        }
        if (atomic_load(&h->active) > 0)
            us_warn("stopping with %ld request(s) still in progress after %d ms",
                    atomic_load(&h->active), DRAIN_TIMEOUT_MS);
        MHD_stop_daemon(h->daemon);
    }
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
