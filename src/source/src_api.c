#include "src_api.h"
#include "us_err.h"
#include "us_time.h"
#include "us_buf.h"
#include "src_counter.h"
#include "src_data.h"
#include "src_format.h"
#include "src_nat.h"
#include "src_request.h"
#include "src_rng.h"

#include <stdatomic.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CT_JSON "application/json; charset=utf-8"
#define ERR_UH_OH                                                                                  \
    "{\"error\":\"Uh oh, something has gone wrong. Please tweet us @randomapi about the issue. "   \
    "Thank you.\"}"
#define ERR_BAD_SEED                                                                               \
    "{\"error\":\"A seed of 18 characters must end in a nationality index 00-14 (hex); "           \
    "randomuser.me fails on this request too.\"}"

struct src_api {
    src_api_config cfg;
    src_data data;
    src_counter rate;     /* users per client address */
    src_counter attempts; /* fault injection: times each request was seen */
    atomic_uint_fast64_t sequence;
    uint64_t boot_seed;
};

src_api *src_api_new(const src_api_config *cfg, char *err, size_t errlen)
{
    src_api *api = calloc(1, sizeof *api);
    if (!api)
        return us_errp(err, errlen, "out of memory");
    api->cfg = *cfg;
    if (src_data_load(&api->data, err, errlen) < 0)
        goto fail;
    if (src_counter_init(&api->rate, cfg->rate_window_ms) < 0 ||
        src_counter_init(&api->attempts, 0) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    api->boot_seed =
        (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    return api;
fail:
    src_api_free(api);
    return NULL;
}

void src_api_free(src_api *api)
{
    if (!api)
        return;
    src_data_free(&api->data);
    src_counter_destroy(&api->rate);
    src_counter_destroy(&api->attempts);
    free(api);
}

void src_response_free(src_response *resp)
{
    free(resp->body);
    resp->body = NULL;
}

const char *src_fault_name(src_fault f)
{
    static const char *const names[SRC_FAULT_KINDS] = {"none",     "500",      "429",  "slow",
                                                       "truncate", "bad-utf8", "empty"};
    return f < SRC_FAULT_KINDS ? names[f] : "?";
}

static void set_body(src_response *resp, int status, const char *ct, const char *text)
{
    resp->status = status;
    resp->content_type = ct;
    resp->body_len = strlen(text);
    resp->body = malloc(resp->body_len + 1);
    if (resp->body)
        memcpy(resp->body, text, resp->body_len + 1);
    else
        resp->body_len = 0;
}

static void not_found(src_response *resp)
{
    set_body(resp, 404, "text/plain; charset=utf-8", "Not Found");
}

static void too_many(src_response *resp, uint64_t users)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"error\":\"Whoa, ease up there cowboy. You've requested %llu users in the last "
             "minute. Help us keep this service free and spare some bandwidth for other users "
             "please :)\"}",
             (unsigned long long)users);
    set_body(resp, 429, CT_JSON, body);
}

/* Case-insensitive match of the route /api/:version? ; *version gets the
 * (still encoded) version segment. */
static bool api_route(const char *p, size_t n, const char **version, size_t *version_n)
{
    if (n < 4 || strncasecmp(p, "/api", 4) != 0)
        return false;
    p += 4, n -= 4;
    if (n > 0 && p[0] == '/')
        p++, n--;
    if (n > 0 && p[n - 1] == '/')
        n--;
    if (memchr(p, '/', n))
        return false;
    *version = p;
    *version_n = n;
    return true;
}

/* The version segment names 1.4 (Express decodes it; empty = latest). */
static bool version_ok(const char *v, size_t n)
{
    char dec[2 * 12 + 1]; /* decoding may double a byte (Latin-1 -> UTF-8) */
    if (n == 0)
        return true;
    if (n > 12)
        return false;
    size_t k = src_qs_decode(v, n, dec);
    return k == 3 && memcmp(dec, "1.4", 3) == 0;
}

static uint64_t client_key(const src_http_request *req)
{
    const char *ip = req->forwarded && *req->forwarded ? req->forwarded : req->client;
    return src_hash(ip ? ip : "", ip ? strlen(ip) : 0, SRC_HASH_INIT);
}

/* Deterministic when seeded: the n-th time the same path+query is asked,
 * the same decision. */
static src_fault decide_fault(src_api *api, const src_http_request *req, src_rng *r)
{
    double total = 0;
    for (int f = 1; f < SRC_FAULT_KINDS; f++)
        total += api->cfg.fault_share[f];
    if (total <= 0)
        return SRC_FAULT_NONE;
    uint64_t h = src_hash(req->path, req->path_n, SRC_HASH_INIT);
    h = src_hash("?", 1, h);
    h = src_hash(req->query ? req->query : "", req->query_n, h);
    uint64_t attempt = src_counter_add(&api->attempts, h, 1, 0);
    uint64_t seed =
        api->cfg.fault_seeded
            ? api->cfg.fault_seed ^ h ^ (attempt * 0x9E3779B97F4A7C15ull)
            : api->boot_seed ^ atomic_fetch_add(&api->sequence, 1) * 0xD6E8FEB86659FD93ull;
    src_rng_seed(r, seed);
    double u = src_rng_unit(r);
    for (int f = 1; f < SRC_FAULT_KINDS; f++) {
        if (u < api->cfg.fault_share[f])
            return (src_fault)f;
        u -= api->cfg.fault_share[f];
    }
    return SRC_FAULT_NONE;
}

static const char *content_type(src_format f)
{
    switch (f) {
    case SRC_FMT_CSV:
        return "text/csv; charset=utf-8";
    case SRC_FMT_YAML:
        return "text/x-yaml; charset=utf-8";
    case SRC_FMT_XML:
        return "text/xml; charset=utf-8";
    default:
        return CT_JSON;
    }
}

static const char *download_name(src_format f)
{
    switch (f) {
    case SRC_FMT_CSV:
        return "download.csv";
    case SRC_FMT_YAML:
        return "download.yaml";
    case SRC_FMT_XML:
        return "download.xml";
    default:
        return "download.json";
    }
}

/* info.seed: the seed, a random one when none is given; "-1" appended for
 * lego, the two-digit nationality index for an 18-character seed. */
static size_t info_seed(src_api *api, const src_request *rq, char *out)
{
    size_t n;
    if (rq->seed_given) {
        memcpy(out, rq->seed, rq->seed_n);
        n = rq->seed_n;
    } else {
        src_rng r;
        src_rng_seed(&r,
                     api->boot_seed ^ atomic_fetch_add(&api->sequence, 1) * 0x9E3779B97F4A7C15ull);
        src_rng_chars(&r, out, 16, "abcdef1234567890", 16);
        n = 16;
    }
    if (rq->nat18 >= 0)
        n += (size_t)sprintf(out + n, "%02x", rq->nat18);
    else if (rq->lego)
        n += (size_t)sprintf(out + n, "-1");
    return n;
}

static void generate(src_api *api, const src_request *rq, src_fault fault, us_buf *body)
{
    char *seed = malloc(rq->seed_n + 64), *keystr = malloc(rq->seed_n + 64);
    if (!seed || !keystr) {
        body->oom = true;
        goto out;
    }
    size_t seed_n = info_seed(api, rq, seed);
    /* The key comes from the seed as given (or generated), not info.seed. */
    size_t base_n = rq->seed_given ? rq->seed_n : 16;
    src_key key = src_key_of(keystr, src_request_key_string(rq, seed, base_n, keystr));
    src_gen_opts gen = rq->gen;
    gen.now_ms = api->cfg.now_ms ? api->cfg.now_ms : us_wall_ms();
    src_writer w;
    us_buf_grow(body, (size_t)rq->results * (rq->format == SRC_FMT_CSV ? 700 : 1300) + 512);
    src_writer_begin(&w, rq->format, rq->inc, body, rq->has_callback ? rq->callback : NULL,
                     rq->callback_n);
    int n = fault == SRC_FAULT_EMPTY ? 0 : rq->results;
    for (int i = 0; i < n && !body->oom; i++) {
        src_rng r;
        src_user u;
        src_rng_init(&r, key, (uint64_t)i);
        src_user_generate(&u, &api->data, &gen, &r);
        src_writer_user(&w, &u);
    }
    src_info info = {seed, seed_n, rq->results, rq->page};
    src_writer_end(&w, rq->noinfo ? NULL : &info);
out:
    free(seed);
    free(keystr);
}

/* Breaks the body as the fault asks; r continues the decision's stream. */
static void damage(src_fault fault, src_response *resp, const src_request *rq, src_rng *r)
{
    if (fault == SRC_FAULT_TRUNCATE && resp->body_len > 1) {
        resp->body_len = 1 + (size_t)((double)(resp->body_len - 1) * (0.1 + 0.8 * src_rng_unit(r)));
    } else if (fault == SRC_FAULT_BAD_UTF8 && resp->body_len > 0) {
        static const char *const marks[] = {"\"first\":\"", "\"first\": \"", "\"first\": \"",
                                            "first: ", "<first>"};
        const char *m = marks[rq->format == SRC_FMT_CSV ? 0 : rq->format];
        char *at = memmem(resp->body, resp->body_len, m, strlen(m));
        size_t pos = at ? (size_t)(at - resp->body) + strlen(m) : resp->body_len / 2;
        if (pos >= resp->body_len)
            pos = resp->body_len - 1;
        resp->body[pos] = (char)0xFF;
    }
}

static void api_get(src_api *api, const src_http_request *req, src_response *resp)
{
    src_qs q;
    src_request rq;
    src_rng fr;
    if (src_qs_parse(&q, req->query ? req->query : "", req->query ? req->query_n : 0) < 0) {
        set_body(resp, 500, CT_JSON, ERR_UH_OH);
        return;
    }
    src_request_from_qs(&rq, &q, api->cfg.quirks);
    if (api->cfg.rate_limit > 0)
        src_counter_add(&api->rate, client_key(req), (uint64_t)rq.results, us_wall_ms());
    src_fault fault = decide_fault(api, req, &fr);
    resp->fault = fault;
    if (fault == SRC_FAULT_500 || rq.bad_seed) {
        set_body(resp, 500, CT_JSON, fault == SRC_FAULT_500 ? ERR_UH_OH : ERR_BAD_SEED);
    } else if (fault == SRC_FAULT_429) {
        too_many(resp, api->cfg.rate_limit > 0 ? (uint64_t)api->cfg.rate_limit : 20000);
    } else {
        us_buf body = {0};
        generate(api, &rq, fault, &body);
        us_buf_putc(&body, '\0'); /* not sent: a C string for whoever reads it */
        body.len--;
        if (body.oom) {
            us_buf_free(&body);
            set_body(resp, 500, CT_JSON, ERR_UH_OH);
        } else {
            resp->status = 200;
            resp->body = us_buf_steal(&body, &resp->body_len);
            resp->content_type = rq.dl ? "application/octet-stream" : content_type(rq.format);
            resp->filename = rq.dl ? download_name(rq.format) : NULL;
            resp->users = fault == SRC_FAULT_EMPTY ? 0 : rq.results;
            damage(fault, resp, &rq, &fr);
            if (fault == SRC_FAULT_SLOW)
                resp->delay_ms = api->cfg.slow_ms;
        }
    }
    src_qs_free(&q);
}

void src_api_handle(src_api *api, const src_http_request *req, src_response *resp)
{
    const char *version;
    size_t version_n;
    memset(resp, 0, sizeof *resp);
    if (strcmp(req->method, "OPTIONS") == 0) {
        resp->status = 204;
        resp->preflight = true;
        return;
    }
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (!get || !api_route(req->path, req->path_n, &version, &version_n)) {
        not_found(resp);
        return;
    }
    /* Upstream checks the limit before the version. */
    if (api->cfg.rate_limit > 0) {
        uint64_t used = src_counter_get(&api->rate, client_key(req), us_wall_ms());
        if (used >= (uint64_t)api->cfg.rate_limit) {
            too_many(resp, used);
            return;
        }
    }
    if (!version_ok(version, version_n)) {
        not_found(resp);
        return;
    }
    api_get(api, req, resp);
}
