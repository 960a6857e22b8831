/* src_http: see src_http.h. */
#include "src_http.h"
#include "us_err.h"
#include "us_http.h"
#include "us_log.h"
#include "us_metrics.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest request head accepted; a longer target gets MHD's 414. */
#define CONNECTION_MEMORY (64 * 1024)
#define CONNECTION_TIMEOUT_S 60
#define MAX_CONNECTIONS 1024

struct src_http {
    us_http *server;
    src_api *api;
    us_http_route route;
    void (*on_done)(void);
    /* counters, updated with relaxed atomics by every server thread */
    unsigned long long users, bytes, faults[SRC_FAULT_KINDS];
};

/* Upstream (Express with cors()) sends this on every answer. */
static const char *const base_headers[] = {"Access-Control-Allow-Origin", "*", NULL};

/* First of cf-connecting-ip, x-real-ip, x-forwarded-for (upstream's order). */
static const char *forwarded_for(const us_http_req *r)
{
    static const char *const names[] = {"cf-connecting-ip", "x-real-ip", "x-forwarded-for"};
    for (int i = 0; i < 3; i++) {
        const char *v = us_http_header(r, names[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

/* Turns src_api's response into the reply (headers in upstream's order). */
static void reply(us_http_req *r, src_response *resp)
{
    if (resp->preflight) {
        const char *asked = us_http_header(r, "Access-Control-Request-Headers");
        us_http_add_header(r, "Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
        us_http_add_header(r, "Vary", "Access-Control-Request-Headers");
        if (asked)
            us_http_add_header(r, "Access-Control-Allow-Headers", asked);
    }
    if (resp->status == 200)
        us_http_add_header(r, "Cache-Control", "no-cache");
    if (resp->filename) {
        char cd[96];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s\"", resp->filename);
        us_http_add_header(r, "Content-Disposition", cd);
    }
    if (resp->fault != SRC_FAULT_NONE)
        us_http_add_header(r, "X-Userstream-Fault", src_fault_name(resp->fault));
    if (resp->delay_ms > 0)
        us_http_delay(r, (unsigned)resp->delay_ms);
    us_http_reply_take(r, (unsigned)resp->status, resp->content_type, resp->body, resp->body_len);
    resp->body = NULL; /* us_http owns it now */
}

static void count(src_http *h, const src_response *resp)
{
    __atomic_add_fetch(&h->bytes, (unsigned long long)resp->body_len, __ATOMIC_RELAXED);
    if (resp->users > 0)
        __atomic_add_fetch(&h->users, (unsigned long long)resp->users, __ATOMIC_RELAXED);
    if (resp->fault > SRC_FAULT_NONE && resp->fault < SRC_FAULT_KINDS)
        __atomic_add_fetch(&h->faults[resp->fault], 1, __ATOMIC_RELAXED);
}

static double get(const unsigned long long *v)
{
    return (double)__atomic_load_n(v, __ATOMIC_RELAXED);
}

void src_http_write_metrics(const src_http *h, us_buf *b)
{
    us_prom_metric(b, "userstream_source_users_total", "counter",
                   "Users generated in answers (every format, faults included).", get(&h->users));
    us_prom_metric(b, "userstream_source_response_bytes_total", "counter",
                   "Bytes of answer bodies.", get(&h->bytes));
    us_prom_family(b, "userstream_source_faults_total", "counter",
                   "Answers with an injected fault (US_SOURCE_FAULT_*), by kind.");
    for (int f = SRC_FAULT_NONE + 1; f < SRC_FAULT_KINDS; f++) {
        const char *labels[] = {"fault", src_fault_name((src_fault)f), NULL};
        us_prom_sample(b, "userstream_source_faults_total", labels, get(&h->faults[f]));
    }
    us_http_write_metrics(h->server, b, "userstream_source");
}

/* The one route: every method and target goes to src_api. */
static void on_api(us_http_req *r, void *ud)
{
    src_http *h = ud;
    char client[INET6_ADDRSTRLEN + 1];
    const char *path = us_http_path(r), *query = us_http_query(r);
    src_http_request req = {.method = us_http_method(r),
                            .path = path,
                            .path_n = strlen(path),
                            .query = query,
                            .query_n = strlen(query),
                            .client = us_http_client(r, client, sizeof client),
                            .forwarded = forwarded_for(r)};
    src_response resp;
    src_api_handle(h->api, &req, &resp);
    count(h, &resp);
    us_debug("%s %.200s%s%.200s -> %d (%ld users, fault %s)", req.method, path, *query ? "?" : "",
             query, resp.status, resp.users, src_fault_name(resp.fault));
    reply(r, &resp);
    src_response_free(&resp);
}

static void on_max_requests(void *ud)
{
    src_http *h = ud;
    h->on_done();
}

src_http *src_http_start(src_api *api, const src_http_config *cfg, char *err, size_t errlen)
{
    src_http *h = calloc(1, sizeof *h);
    if (!h)
        return us_errp(err, errlen, "out of memory");
    h->api = api;
    h->on_done = cfg->on_done;
    h->route = (us_http_route){.method = NULL, .path = "", .prefix = true, .fn = on_api, .ud = h};
    us_http_config hc = {.bind = cfg->bind,
                         .port = cfg->port,
                         .max_connections = MAX_CONNECTIONS,
                         .timeout_s = CONNECTION_TIMEOUT_S};
    us_http_opts ho = {.threads = (unsigned)cfg->threads,
                       .max_head = CONNECTION_MEMORY,
                       .discard_body = true,
                       .base_headers = base_headers,
                       .max_requests = cfg->max_requests > 0 && cfg->on_done
                                           ? (unsigned long long)cfg->max_requests
                                           : 0,
                       .on_max_requests = on_max_requests,
                       .max_requests_ud = h};
    h->server = us_http_start_opts(&hc, &ho, &h->route, 1, err, errlen);
    if (!h->server) {
        free(h);
        return NULL;
    }
    return h;
}

int src_http_port(const src_http *h)
{
    return us_http_port(h->server);
}

void src_http_stop(src_http *h)
{
    if (!h)
        return;
    us_http_stop(h->server);
    free(h);
}
