/* userstream-load: fetches users from a randomuser-compatible API, validates
 * and flattens them, and loads them into PostgreSQL staging idempotently.
 * See src/load/README.md for options, output and exit codes. */
#include "ld_page.h"
#include "us_err.h"
#include "ld_run.h"
#include "us_config.h"
#include "us_log.h"
#include "us_util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const us_option options[] = {
    {"US_LOAD_URL", "url", 'u', US_OPT_STRING, NULL, "URL",
     "API base URL (default: US_SOURCE_URL, else http://US_BIND:US_SOURCE_PORT/api/1.4/)"},
    {"US_LOAD_QUERY", "query", 0, US_OPT_STRING, NULL, "PARAMS",
     "extra query parameters for every request, e.g. nat=us,gb"},
    {"US_LOAD_SEED", "seed", 's', US_OPT_STRING, NULL, "SEED",
     "API seed (default: 16 random hex digits, printed in the summary)"},
    {"US_LOAD_RESULTS", "results", 'r', US_OPT_INT, "5000", "N", "users per page (1-5000)"},
    {"US_LOAD_FIRST_PAGE", "first-page", 0, US_OPT_INT, "1", "N", "first page to fetch"},
    {"US_LOAD_PAGES", "pages", 'p', US_OPT_INT, "1", "N",
     "pages to load: first-page .. first-page+N-1 (without --follow)"},
    {"US_LOAD_MAX_PAGES", "max-pages", 0, US_OPT_INT, "0", "N",
     "with --follow: stop after N pages (0: run until SIGTERM)"},
    {"US_LOAD_FOLLOW", "follow", 'f', US_OPT_BOOL, "false", NULL,
     "keep loading page after page (a continuous stream)"},
    {"US_LOAD_RATE", "rate", 0, US_OPT_INT, "0", "N",
     "with --follow: at most N users per second (0: as fast as possible)"},
    {"US_LOAD_CONCURRENCY", "concurrency", 'c', US_OPT_INT, "4", "N", "concurrent fetches"},
    {"US_LOAD_DB_CONNECTIONS", "db-connections", 0, US_OPT_INT, "2", "N",
     "PostgreSQL connections loading batches in parallel"},
    {"US_LOAD_INSERT_MODE", "insert-mode", 0, US_OPT_STRING, "copy", "MODE",
     "copy (COPY + INSERT ... SELECT); rows: one INSERT per user (benchmark baseline)"},
    {"US_LOAD_RUN_ID", "run-id", 0, US_OPT_STRING, NULL, "ID",
     "run id written with every row (default: load-<UTC time>-<pid>)"},
    {"US_LOAD_TIMEOUT_S", "timeout", 0, US_OPT_INT, "60", "SECONDS", "timeout of one request"},
    {"US_LOAD_CONNECT_TIMEOUT_S", "connect-timeout", 0, US_OPT_INT, "10", "SECONDS",
     "timeout to connect (API and PostgreSQL)"},
    {"US_LOAD_MAX_ATTEMPTS", "max-attempts", 0, US_OPT_INT, "5", "N",
     "tries per page, the first included"},
    {"US_LOAD_MAX_RETRIES", "max-retries", 0, US_OPT_INT, "100", "N", "retries per run, all pages"},
    {"US_LOAD_BACKOFF_BASE_MS", "backoff-base", 0, US_OPT_INT, "200", "MS",
     "first backoff ceiling; doubles per retry (full jitter)"},
    {"US_LOAD_BACKOFF_CAP_MS", "backoff-cap", 0, US_OPT_INT, "30000", "MS",
     "largest backoff ceiling"},
    {"US_LOAD_RETRY_AFTER_MAX_S", "retry-after-max", 0, US_OPT_INT, "120", "SECONDS",
     "longest Retry-After honoured"},
    {"US_LOAD_MAX_BODY_MB", "max-body", 0, US_OPT_INT, "64", "MB", "largest response accepted"},
    {"US_LOAD_REJECT_RAW_MAX", "reject-raw-max", 0, US_OPT_INT, "262144", "BYTES",
     "longest raw_text stored for a reject"},
    {"US_PG_HOST", "pg-host", 0, US_OPT_STRING, NULL, "HOST",
     "PostgreSQL host (default: US_BIND, else 127.0.0.1)"},
    {"US_PG_PORT", "pg-port", 0, US_OPT_INT, "5433", "PORT", "PostgreSQL port"},
    {"US_PG_DATABASE", "pg-database", 0, US_OPT_STRING, "userstream", "NAME", "database"},
    {"US_PG_LOADER_USER", "pg-user", 0, US_OPT_STRING, "loader", "ROLE",
     "PostgreSQL role (the stack's loader role); its password comes from PGPASSFILE"},
    /* read from the shared file to derive defaults; no flags */
    {"US_BIND", NULL, 0, US_OPT_STRING, NULL, NULL, "address local services listen on"},
    {"US_SOURCE_URL", NULL, 0, US_OPT_STRING, NULL, NULL, "userstream-source API URL"},
    {"US_SOURCE_PORT", NULL, 0, US_OPT_INT, "8100", NULL, "userstream-source port"},
};

static const us_program program = {
    "userstream-load",
    "load users from a randomuser-compatible API into PostgreSQL staging",
    "[OPTION]...",
    "Prints one JSON summary line on stdout. Exit codes: 0 every page loaded (invalid\n"
    "records are in staging.rejects), 1 internal error, 2 usage or configuration error,\n"
    "3 database error, 4 some pages rejected whole after retries, 5 interrupted.\n"
    "The PostgreSQL password is read by libpq from PGPASSFILE, never from an option.",
};

static void on_signal(int sig)
{
    (void)sig;
    ld_run_stop = 1;
}

static int get_long(us_config *cfg, const char *key, long min, long max, long *out, char *err,
                    size_t errlen)
{
    return us_config_get_int(cfg, key, min, max, out, err, errlen);
}

/* Storage for values derived at start-up. */
typedef struct derived {
    char url[1024];
    char seed[17];
    char run_id[96];
    char pg_port[16];
    char user_agent[64];
} derived;

static const char *derive_url(us_config *cfg, derived *d, char *err, size_t errlen)
{
    const char *url = us_config_get(cfg, "US_LOAD_URL");
    if (!url || !*url)
        url = us_config_get(cfg, "US_SOURCE_URL");
    if (url && *url)
        return url;
    long port;
    if (get_long(cfg, "US_SOURCE_PORT", 1, 65535, &port, err, errlen) < 0)
        return NULL;
    const char *bind = us_config_get(cfg, "US_BIND");
    snprintf(d->url, sizeof d->url, "http://%s:%ld/api/1.4/", bind && *bind ? bind : "127.0.0.1",
             port);
    return d->url;
}

static const char *derive_seed(us_config *cfg, derived *d)
{
    const char *seed = us_config_get(cfg, "US_LOAD_SEED");
    if (seed && *seed)
        return seed;
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = us_wall_us() ^ ((uint64_t)getpid() << 32);
        memcpy(r, &t, sizeof r);
    }
    for (int i = 0; i < 8; i++)
        snprintf(d->seed + 2 * i, 3, "%02x", r[i]);
    return d->seed;
}

static const char *derive_run_id(us_config *cfg, derived *d)
{
    const char *id = us_config_get(cfg, "US_LOAD_RUN_ID");
    if (id && *id)
        return id;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(d->run_id, sizeof d->run_id, "load-%04d%02d%02dT%02d%02d%02dZ-%ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid());
    return d->run_id;
}

/* A seed the API cannot read (ld_seed_nat_index) is refused here with the
 * reason, instead of every page being retried and rejected. */
static int check_seed(const char *seed, char *err, size_t errlen)
{
    if (ld_seed_nat_index(seed) != LD_SEED_BAD_NAT)
        return 0;
    snprintf(err, errlen,
             "seed \"%s\": randomuser.me reads an 18-character seed as 16 characters and a "
             "nationality index 00-14 (hex), and answers HTTP 500 to every request for this one; "
             "use a seed of another length",
             seed);
    return -1;
}

static int fetch_opts(us_config *cfg, derived *d, ld_run_opts *o, char *err, size_t errlen)
{
    long results, conc, timeout, ctimeout, body;
    if (get_long(cfg, "US_LOAD_RESULTS", 1, 5000, &results, err, errlen) ||
        get_long(cfg, "US_LOAD_CONCURRENCY", 1, 64, &conc, err, errlen) ||
        get_long(cfg, "US_LOAD_TIMEOUT_S", 1, 3600, &timeout, err, errlen) ||
        get_long(cfg, "US_LOAD_CONNECT_TIMEOUT_S", 1, 600, &ctimeout, err, errlen) ||
        get_long(cfg, "US_LOAD_MAX_BODY_MB", 1, 1024, &body, err, errlen))
        return -1;
    if (!(o->fetch.base_url = derive_url(cfg, d, err, errlen)))
        return -1;
    o->fetch.extra_query = us_config_get(cfg, "US_LOAD_QUERY");
    o->fetch.seed = derive_seed(cfg, d);
    if (check_seed(o->fetch.seed, err, errlen) < 0)
        return -1;
    o->fetch.results = results;
    o->fetch.concurrency = (int)conc;
    o->fetch.timeout_ms = timeout * 1000;
    o->fetch.connect_timeout_ms = ctimeout * 1000;
    o->fetch.max_body = (size_t)body << 20;
    snprintf(d->user_agent, sizeof d->user_agent, "userstream-load/%s", US_VERSION);
    o->fetch.user_agent = d->user_agent;
    o->pg.connect_timeout_s = ctimeout;
    return 0;
}

static int retry_opts(us_config *cfg, ld_run_opts *o, char *err, size_t errlen)
{
    long attempts, retries, base, cap, ra_max;
    if (get_long(cfg, "US_LOAD_MAX_ATTEMPTS", 1, 100, &attempts, err, errlen) ||
        get_long(cfg, "US_LOAD_MAX_RETRIES", 0, 1000000, &retries, err, errlen) ||
        get_long(cfg, "US_LOAD_BACKOFF_BASE_MS", 1, 600000, &base, err, errlen) ||
        get_long(cfg, "US_LOAD_BACKOFF_CAP_MS", 1, 3600000, &cap, err, errlen) ||
        get_long(cfg, "US_LOAD_RETRY_AFTER_MAX_S", 0, 86400, &ra_max, err, errlen))
        return -1;
    o->retry.max_attempts = (int)attempts;
    o->retry.max_retries = retries;
    o->retry.base_s = (double)base / 1000.0;
    o->retry.cap_s = (double)(cap < base ? base : cap) / 1000.0;
    o->retry.retry_after_max = (double)ra_max;
    return 0;
}

static int run_opts(us_config *cfg, ld_run_opts *o, char *err, size_t errlen)
{
    long first, pages, max_pages, rate, raw_max, conns;
    bool follow;
    if (get_long(cfg, "US_LOAD_FIRST_PAGE", 1, 10000, &first, err, errlen) ||
        get_long(cfg, "US_LOAD_PAGES", 1, 10000, &pages, err, errlen) ||
        get_long(cfg, "US_LOAD_MAX_PAGES", 0, 10000, &max_pages, err, errlen) ||
        get_long(cfg, "US_LOAD_RATE", 0, 100000000, &rate, err, errlen) ||
        get_long(cfg, "US_LOAD_REJECT_RAW_MAX", 256, 64L << 20, &raw_max, err, errlen) ||
        get_long(cfg, "US_LOAD_DB_CONNECTIONS", 1, 16, &conns, err, errlen) ||
        us_config_get_bool(cfg, "US_LOAD_FOLLOW", &follow, err, errlen))
        return -1;
    /* the API keeps page numbers in 1..10000 (randomuser-api.md §2) */
    o->first_page = first;
    o->follow = follow;
    o->pages = follow ? (max_pages ? max_pages : 10001 - first) : pages;
    if (o->first_page + o->pages - 1 > 10000)
        return us_errf(err, errlen, "pages %ld..%ld: the API serves pages 1..10000", first,
                       first + o->pages - 1);
    if (!follow && (us_config_origin(cfg, "US_LOAD_MAX_PAGES") == US_ORIGIN_FLAG ||
                    us_config_origin(cfg, "US_LOAD_RATE") == US_ORIGIN_FLAG)) {
        return us_errf(err, errlen,
                       "--max-pages and --rate need --follow (use --pages for a fixed run)");
    }
    o->rate = (double)rate;
    o->raw_max = (size_t)raw_max;
    const char *mode = us_config_get(cfg, "US_LOAD_INSERT_MODE");
    if (strcmp(mode, "copy") != 0 && strcmp(mode, "rows") != 0)
        return us_errf(err, errlen, "--insert-mode: \"%.32s\" is not copy or rows", mode);
    o->row_inserts = strcmp(mode, "rows") == 0;
    o->db_connections = (int)conns;
    return 0;
}

static int pg_opts(us_config *cfg, derived *d, ld_run_opts *o, char *err, size_t errlen)
{
    return us_pg_opts_from_config(cfg, "US_PG_LOADER_USER", &o->pg, d->pg_port, err, errlen);
}

static void print_summary(const ld_run_opts *o, const ld_run_result *r)
{
    json_t *j = json_pack(
        "{s:s, s:I, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, "
        "s:i, s:s}",
        "run_id", o->run_id, "load_id", (json_int_t)r->load_id, "seed", o->fetch.seed, "first_page",
        (int)o->first_page, "pages", (int)(r->pages_loaded + r->pages_rejected), "results",
        (int)o->fetch.results, "fetched", (json_int_t)r->fetched, "staged", (json_int_t)r->staged,
        "duplicates", (json_int_t)r->duplicates, "rejected", (json_int_t)r->rejected,
        "pages_loaded", (json_int_t)r->pages_loaded, "pages_rejected",
        (json_int_t)r->pages_rejected, "short_pages", (json_int_t)r->short_pages, "retries",
        (json_int_t)r->retries, "seconds", r->seconds, "users_per_second",
        r->seconds > 0 ? (double)r->staged / r->seconds : 0.0, "exit_code", r->exit_code, "status",
        r->status);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(s);
    json_decref(j);
}

static int configure(us_config *cfg, derived *d, ld_run_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (fetch_opts(cfg, d, o, err, errlen) || retry_opts(cfg, o, err, errlen) ||
        run_opts(cfg, o, err, errlen) || pg_opts(cfg, d, o, err, errlen))
        return -1;
    o->run_id = derive_run_id(cfg, d);
    o->rng_seed = us_wall_us() ^ ((uint64_t)getpid() << 20) ^ 0x9E3779B97F4A7C15ULL;
    return 0;
}

int main(int argc, char **argv)
{
    char err[1024] = "";
    int first_arg, code = LD_EXIT_USAGE;
    derived d;
    ld_run_opts o;
    ld_run_result r;

    memset(&d, 0, sizeof d);
    us_log_set_program(program.name);
    us_config *cfg = us_config_new(options, US_ARRAY_LEN(options));
    if (!cfg)
        return LD_EXIT_INTERNAL;
    int prc = us_config_parse_args(cfg, &program, argc, argv, &first_arg, err, sizeof err);
    if (prc == US_PARSE_EXIT) {
        code = LD_EXIT_OK;
        goto out;
    }
    if (prc == US_PARSE_ERROR || first_arg < argc || configure(cfg, &d, &o, err, sizeof err)) {
        if (prc != US_PARSE_ERROR && first_arg < argc && !err[0])
            snprintf(err, sizeof err, "unexpected argument \"%.64s\"", argv[first_arg]);
        fprintf(stderr, "%s: %s\nTry \"%s --help\" for more information.\n", program.name, err,
                program.name);
        goto out;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object_seed(0);
    if (ld_run_execute(&o, &r, err, sizeof err) < 0 || err[0])
        us_error("%s", err);
    print_summary(&o, &r);
    code = r.exit_code;
    curl_global_cleanup();
out:
    us_config_free(cfg);
    return code;
}
