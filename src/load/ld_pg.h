/* ld_pg: everything the loader says to PostgreSQL.
 *
 * One connection, one transaction per batch (a page):
 *   BEGIN;
 *   COPY pg_temp.load_batch (...) FROM STDIN;           -- the page's valid users
 *   INSERT INTO staging.users (...) SELECT ... FROM pg_temp.load_batch
 *       ON CONFLICT (user_id) DO NOTHING;               -- staged = rows inserted
 *   COPY staging.rejects (...) FROM STDIN;              -- invalid records / the page
 *   INSERT INTO ops.load_batches (...);                  -- counts move with the data
 *   COMMIT;                                             -- load_batch empties on commit
 * so a batch is either fully in (rows, rejects and the counts saying so) or
 * not at all, and a rerun of the same seed and pages adds no user. The
 * password comes from libpq itself (PGPASSFILE / ~/.pgpass), never from us. */
#ifndef LD_PG_H
#define LD_PG_H

#include "us_pg.h"
#include "ld_page.h"

#include <stdint.h>

typedef struct ld_pg ld_pg;

typedef struct ld_run_info {
    const char *run_id;
    const char *source_url; /* base URL without credentials */
    const char *seed;
    long first_page;
    long pages; /* < 0: follow mode, open ended */
    long results;
} ld_run_info;

/* Counters of one batch, inserted into ops.load_batches in its transaction. */
typedef struct ld_batch_counts {
    long fetched, staged, duplicates, rejected, pages_rejected;
} ld_batch_counts;

ld_pg *ld_pg_connect(const us_pg_conn_opts *o, char *err, size_t errlen);
void ld_pg_free(ld_pg *pg);

/* Creates the session's temporary table (each connection needs it). */
int ld_pg_prepare(ld_pg *pg, char *err, size_t errlen);

/* Records the run in ops.load_runs; *load_id identifies it. */
int ld_pg_run_begin(ld_pg *pg, const ld_run_info *run, int64_t *load_id, char *err, size_t errlen);

/* Switches this connection to the benchmark baseline: one prepared
 * INSERT ... ON CONFLICT DO NOTHING per user instead of COPY. */
int ld_pg_use_row_inserts(ld_pg *pg, char *err, size_t errlen);

/* Loads one batch (see above). On success fills c->staged and c->duplicates
 * (valid users not inserted because their user_id was already there). */
int ld_pg_load(ld_pg *pg, int64_t load_id, long page, const ld_page_out *out, ld_batch_counts *c,
               long retries_total, char *err, size_t errlen);

/* Final status of the run ("ok", "partial", "failed", "interrupted") and
 * its totals, summed from ops.load_batches. */
int ld_pg_run_end(ld_pg *pg, int64_t load_id, const char *status, int exit_code, long retries_total,
                  double seconds, char *err, size_t errlen);

#endif
