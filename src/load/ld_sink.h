/* ld_sink: the database side of the pipeline, on its own threads.
 *
 * The main thread downloads and parses page N+1 while the sink threads COPY
 * earlier pages, each on its own connection: PostgreSQL's work overlaps the
 * parsing and uses more than one core. Batches pass through a bounded
 * queue (back-pressure: the producer waits when `depth` batches are
 * waiting) and come back through a free list so their buffers are reused.
 * After the first database error no new batch starts, the message is kept
 * and every later submit fails (a batch already loading on another
 * connection may still commit: each batch is atomic and counted with itself). */
#ifndef LD_SINK_H
#define LD_SINK_H

#include "ld_page.h"
#include "ld_pg.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ld_batch {
    ld_page_out out;
    long page;
    bool page_rejected; /* the batch is one whole-page reject */
    long retries_total; /* the run's retries when this batch was made */
    struct ld_batch *next;
} ld_batch;

typedef struct ld_sink_totals {
    long fetched, staged, duplicates, rejected, pages_loaded, pages_rejected;
} ld_sink_totals;

typedef struct ld_sink ld_sink;

/* n connections, one thread each (the sink does not own them). */
ld_sink *ld_sink_start(ld_pg **pg, int n, int64_t load_id, int depth, char *err, size_t errlen);
/* A batch to fill: a reused one or a new one (NULL when out of memory). */
ld_batch *ld_sink_batch(ld_sink *s);
/* Gives back a batch that will not be submitted. */
void ld_sink_release(ld_sink *s, ld_batch *b);
/* Hands a filled batch over; -1 once the sink has failed (the batch is
 * taken back either way). */
int ld_sink_submit(ld_sink *s, ld_batch *b);
/* Waits until every submitted batch is committed or the sink failed; the
 * thread ends. Returns 0, or -1 with the first error in err. */
int ld_sink_finish(ld_sink *s, ld_sink_totals *totals, char *err, size_t errlen);
bool ld_sink_failed(ld_sink *s);
void ld_sink_free(ld_sink *s);

#endif
