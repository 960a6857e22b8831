/* userstream-source: a randomuser.me 1.4-compatible API server with its own
 * data, deterministic by seed and page, with optional fault injection and
 * rate limiting. main only orchestrates: configuration, start, wait for a
 * signal, stop. Exit codes are documented in README.md. */
#include "src_api.h"
#include "us_err.h"
#include "src_counter.h"
#include "src_http.h"
#include "src_metrics.h"
#include "src_nat.h"
#include "us_config.h"
#include "us_log.h"
#include "us_util.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const us_option options[] = {
    {"US_SOURCE_PORT", "port", 'p', US_OPT_INT, "8100", "PORT",
     "TCP port to listen on (0: any free port)"},
    {"US_SOURCE_BIND", "bind", 'b', US_OPT_STRING, "127.0.0.1", "ADDR",
     "numeric IPv4 or IPv6 address to listen on"},
    {"US_SOURCE_METRICS_PORT", "metrics-port", 0, US_OPT_INT, "8104", "PORT",
     "TCP port of GET /metrics and /health, on the same address (0: none)"},
    {"US_SOURCE_THREADS", "threads", 't', US_OPT_INT, "0", "N", "server threads (0: one per core)"},
    {"US_SOURCE_QUIRKS", "quirks", 0, US_OPT_STRING, "upstream", "MODE",
     "upstream: keep randomuser.me's output bugs (FI ids, CA/UA phones, ...); fixed: valid values"},
    {"US_SOURCE_NOW", "now", 0, US_OPT_STRING, NULL, "TIME",
     "reference time of dob.age/registered.age: YYYY-MM-DD or Unix seconds (default: the clock)"},
    {"US_SOURCE_RATE_LIMIT", "rate-limit", 0, US_OPT_INT, "0", "USERS",
     "users a client may fetch per window, then 429 (upstream: 20000; 0: off)"},
    {"US_SOURCE_RATE_WINDOW", "rate-window", 0, US_OPT_INT, "300", "SECONDS",
     "rate-limit window (fixed, as upstream)"},
    {"US_SOURCE_FAULT_500", "fault-500", 0, US_OPT_STRING, "0", "SHARE",
     "share of API responses answered 500 \"Uh oh\""},
    {"US_SOURCE_FAULT_429", "fault-429", 0, US_OPT_STRING, "0", "SHARE",
     "share answered 429 with the rate-limit body"},
    {"US_SOURCE_FAULT_SLOW", "fault-slow", 0, US_OPT_STRING, "0", "SHARE",
     "share answered after US_SOURCE_FAULT_SLOW_MS"},
    {"US_SOURCE_FAULT_SLOW_MS", "fault-slow-ms", 0, US_OPT_INT, "2000", "MS",
     "delay of a slow response"},
    {"US_SOURCE_FAULT_TRUNCATE", "fault-truncate", 0, US_OPT_STRING, "0", "SHARE",
     "share with the body cut short"},
    {"US_SOURCE_FAULT_BAD_UTF8", "fault-bad-utf8", 0, US_OPT_STRING, "0", "SHARE",
     "share with an invalid UTF-8 byte in a name"},
    {"US_SOURCE_FAULT_EMPTY", "fault-empty", 0, US_OPT_STRING, "0", "SHARE",
     "share with \"results\": [] (upstream's 2026 outage)"},
    {"US_SOURCE_FAULT_SEED", "fault-seed", 0, US_OPT_STRING, NULL, "SEED",
     "deterministic faults: the n-th attempt of the same request always gets the same answer"},
    {"US_SOURCE_MAX_REQUESTS", "max-requests", 0, US_OPT_INT, "0", "N",
     "exit 0 after answering N requests (0: never)"},
};

static const us_program program = {
    "userstream-source",
    "a randomuser.me 1.4-compatible API server (offline data source and load generator)",
    "[OPTION]...",
    "Serves GET /api/ and /api/1.4/ with randomuser.me's parameters (results, page, seed,\n"
    "gender, nat, inc, exc, format, noinfo, password, callback, dl, lego).\n\n"
    "Exit status: 0 stopped by SIGTERM/SIGINT or --max-requests; 1 could not start\n"
    "(port in use, bad data); 2 invalid option or setting."};

static const char *const fault_keys[SRC_FAULT_KINDS] = {NULL,
                                                        "US_SOURCE_FAULT_500",
                                                        "US_SOURCE_FAULT_429",
                                                        "US_SOURCE_FAULT_SLOW",
                                                        "US_SOURCE_FAULT_TRUNCATE",
                                                        "US_SOURCE_FAULT_BAD_UTF8",
                                                        "US_SOURCE_FAULT_EMPTY"};

/* "YYYY-MM-DD[THH:MM:SS[Z]]" or Unix seconds -> ms. */
static int parse_now(const char *s, int64_t *ms)
{
    long secs;
    struct tm tm = {0};
    if (us_parse_long(s, 0, 253402300799L, &secs) == 0) {
        *ms = (int64_t)secs * 1000;
        return 0;
    }
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end && (*end == 'T' || *end == ' '))
        end = strptime(end + 1, "%H:%M:%S", &tm);
    if (end && *end == 'Z')
        end++;
    if (!end || *end)
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

static int read_faults(const us_config *cfg, src_api_config *ac, char *err, size_t errlen)
{
    double total = 0;
    long slow;
    for (int f = 1; f < SRC_FAULT_KINDS; f++) {
        if (us_config_get_double(cfg, fault_keys[f], 0, 1, &ac->fault_share[f], err, errlen) < 0)
            return -1;
        total += ac->fault_share[f];
    }
    if (total > 1.0 + 1e-9)
        return us_errf(err, errlen, "the fault shares add up to %.3f, more than 1", total);
    if (us_config_get_int(cfg, "US_SOURCE_FAULT_SLOW_MS", 0, 600000, &slow, err, errlen) < 0)
        return -1;
    ac->slow_ms = (int)slow;
    const char *seed = us_config_get(cfg, "US_SOURCE_FAULT_SEED");
    if (seed && *seed) {
        ac->fault_seeded = true;
        ac->fault_seed = src_hash(seed, strlen(seed), SRC_HASH_INIT);
    }
    return 0;
}

static int read_api_config(const us_config *cfg, src_api_config *ac, char *err, size_t errlen)
{
    long limit, window;
    const char *quirks = us_config_get(cfg, "US_SOURCE_QUIRKS");
    memset(ac, 0, sizeof *ac);
    if (!quirks || (strcmp(quirks, "upstream") != 0 && strcmp(quirks, "fixed") != 0))
        return us_errf(err, errlen, "US_SOURCE_QUIRKS: \"%s\" is not upstream or fixed",
                       quirks ? quirks : "");
    ac->quirks = strcmp(quirks, "upstream") == 0;
    const char *now = us_config_get(cfg, "US_SOURCE_NOW");
    if (now && *now && parse_now(now, &ac->now_ms) < 0) {
        return us_errf(
            err, errlen,
            "US_SOURCE_NOW: \"%.64s\" is neither YYYY-MM-DD[THH:MM:SSZ] nor Unix seconds", now);
    }
    if (us_config_get_int(cfg, "US_SOURCE_RATE_LIMIT", 0, 1L << 40, &limit, err, errlen) < 0 ||
        us_config_get_int(cfg, "US_SOURCE_RATE_WINDOW", 1, 86400L * 366, &window, err, errlen) < 0)
        return -1;
    ac->rate_limit = limit;
    ac->rate_window_ms = (int64_t)window * 1000;
    return read_faults(cfg, ac, err, errlen);
}

static int read_http_config(const us_config *cfg, src_http_config *hc, int *metrics_port, char *err,
                            size_t errlen)
{
    long port, threads, max, mport;
    if (us_config_get_int(cfg, "US_SOURCE_PORT", 0, 65535, &port, err, errlen) < 0 ||
        us_config_get_int(cfg, "US_SOURCE_METRICS_PORT", 0, 65535, &mport, err, errlen) < 0 ||
        us_config_get_int(cfg, "US_SOURCE_THREADS", 0, 256, &threads, err, errlen) < 0 ||
        us_config_get_int(cfg, "US_SOURCE_MAX_REQUESTS", 0, 1L << 40, &max, err, errlen) < 0)
        return -1;
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? cores : 1;
    }
    hc->bind = us_config_get(cfg, "US_SOURCE_BIND");
    unsigned char addr[sizeof(struct in6_addr)];
    if (!hc->bind ||
        (inet_pton(AF_INET, hc->bind, addr) != 1 && inet_pton(AF_INET6, hc->bind, addr) != 1)) {
        return us_errf(err, errlen,
                       "US_SOURCE_BIND: \"%.64s\" is not a numeric IPv4 or IPv6 address",
                       hc->bind ? hc->bind : "");
    }
    hc->port = (int)port;
    *metrics_port = (int)mport;
    hc->threads = (int)threads;
    hc->max_requests = max;
    return 0;
}

static void on_max_requests(void)
{
    kill(getpid(), SIGUSR1); /* main's sigwait takes it */
}

/* Blocks the stop signals in every thread (MHD's inherit the mask) so that
 * main alone receives them, with sigwait: no signal handlers at all. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Response bodies are megabytes (5,000 users ~ 5 MB). Served from the heap
 * and kept there, instead of a fresh mmap per response, they cost no page
 * faults after the first few requests; RSS stays near threads x body. */
static void tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
}

static int serve(const us_config *cfg)
{
    char err[512];
    src_api_config ac;
    src_http_config hc = {.on_done = on_max_requests};
    sigset_t set;
    int sig = 0, metrics_port = 0;
    if (read_api_config(cfg, &ac, err, sizeof err) < 0 ||
        read_http_config(cfg, &hc, &metrics_port, err, sizeof err) < 0) {
        us_error("%s", err);
        fprintf(stderr, "Try 'userstream-source --help' for more information.\n");
        return EXIT_USAGE;
    }
    block_signals(&set);
    tune_malloc();
    src_api *api = src_api_new(&ac, err, sizeof err);
    if (!api) {
        us_error("%s", err);
        return EXIT_RUNTIME;
    }
    src_http *http = src_http_start(api, &hc, err, sizeof err);
    if (!http) {
        us_error("%s", err);
        src_api_free(api);
        return EXIT_RUNTIME;
    }
    const char *lb = strchr(hc.bind, ':') ? "[" : "", *rb = *lb ? "]" : "";
    src_metrics *metrics = NULL;
    if (metrics_port > 0 &&
        !(metrics = src_metrics_start(http, hc.bind, metrics_port, err, sizeof err))) {
        us_error("US_SOURCE_METRICS_PORT: %s", err);
        src_http_stop(http);
        src_api_free(api);
        return EXIT_RUNTIME;
    }
    us_info("listening on http://%s%s%s:%d/api/ with %d threads (quirks %s)", lb, hc.bind, rb,
            src_http_port(http), hc.threads, ac.quirks ? "upstream" : "fixed");
    if (metrics)
        us_info("metrics on http://%s%s%s:%d/metrics", lb, hc.bind, rb, src_metrics_port(metrics));
    sigwait(&set, &sig);
    us_info("stopping (%s)", sig == SIGUSR1 ? "max requests answered" : strsignal(sig));
    src_metrics_stop(metrics);
    src_http_stop(http);
    src_api_free(api);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    char err[512];
    int first = 0, rc;
    us_log_set_program(program.name);
    us_config *cfg = us_config_new(options, US_ARRAY_LEN(options));
    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", program.name);
        return EXIT_RUNTIME;
    }
    rc = us_config_parse_args(cfg, &program, argc, argv, &first, err, sizeof err);
    if (rc == US_PARSE_EXIT) {
        rc = EXIT_OK;
    } else if (rc == US_PARSE_ERROR || first < argc) {
        fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", program.name,
                rc == US_PARSE_ERROR ? err : "unexpected argument", program.name);
        rc = EXIT_USAGE;
    } else {
        rc = serve(cfg);
    }
    us_config_free(cfg);
    return rc;
}
