/* ld_run: one loader run: schedule pages, fetch, retry, parse, hand batches
 * to the database thread, and add up what happened. main only builds the
 * options from the configuration and prints the summary. */
#ifndef LD_RUN_H
#define LD_RUN_H

#include "ld_fetch.h"
#include "ld_pg.h"
#include "ld_retry.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit codes of userstream-load (documented in src/load/README.md). */
enum {
    LD_EXIT_OK = 0,          /* every page loaded (invalid records are in staging.rejects) */
    LD_EXIT_INTERNAL = 1,    /* out of memory or another internal error */
    LD_EXIT_USAGE = 2,       /* bad option or configuration */
    LD_EXIT_DATABASE = 3,    /* PostgreSQL unreachable or a batch failed: that batch is not in */
    LD_EXIT_PARTIAL = 4,     /* some pages were rejected whole after retries (staging.rejects) */
    LD_EXIT_INTERRUPTED = 5, /* SIGINT/SIGTERM before every page was loaded (not in --follow) */
};

typedef struct ld_run_opts {
    ld_fetch_opts fetch;
    us_pg_conn_opts pg;
    ld_retry_policy retry;
    const char *run_id;
    long first_page;
    long pages; /* pages to load; < 0 with follow: unbounded */
    bool follow;
    double rate;    /* users per second in follow mode; 0: no limit */
    size_t raw_max; /* longest raw_text of a reject */
    int db_connections;
    bool row_inserts; /* benchmark baseline */
    uint64_t rng_seed;
} ld_run_opts;

typedef struct ld_run_result {
    int64_t load_id;
    long fetched, staged, duplicates, rejected;
    long pages_loaded, pages_rejected, short_pages, retries;
    double seconds;
    int exit_code;
    const char *status; /* ops.load_runs.status */
} ld_run_result;

/* Set by the signal handler; the run stops scheduling and drains. */
extern volatile sig_atomic_t ld_run_stop;

int ld_run_execute(const ld_run_opts *o, ld_run_result *res, char *err, size_t errlen);

#endif
