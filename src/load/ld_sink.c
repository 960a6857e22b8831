#include "ld_sink.h"
#include "us_err.h"

#include "us_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LD_SINK_MAX 16

struct ld_sink;
typedef struct worker {
    struct ld_sink *sink;
    ld_pg *pg;
    pthread_t thread;
    bool started;
} worker;

struct ld_sink {
    worker workers[LD_SINK_MAX];
    int n_workers;
    int64_t load_id;
    int depth;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ld_batch *head, *tail; /* submitted, not yet loaded */
    int queued;            /* in the queue */
    int busy;              /* being loaded */
    ld_batch *free_list;
    bool stopping, failed;
    char error[512];
    ld_sink_totals totals;
};

static void batch_free(ld_batch *b)
{
    if (b) {
        ld_page_out_free(&b->out);
        free(b);
    }
}

static void *sink_main(void *arg)
{
    worker *w = arg;
    ld_sink *s = w->sink;
    char err[400];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->head)
            break;
        /* take the batch off the queue: other workers take the next ones */
        ld_batch *b = s->head;
        s->busy++;
        s->head = b->next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        pthread_cond_broadcast(&s->cv);
        bool failed = s->failed;
        pthread_mutex_unlock(&s->mu);

        ld_batch_counts c = {.fetched = b->out.fetched,
                             .rejected = b->out.rejected,
                             .pages_rejected = b->page_rejected ? 1 : 0};
        int rc = failed ? -1
                        : ld_pg_load(w->pg, s->load_id, b->page, &b->out, &c, b->retries_total, err,
                                     sizeof err);

        pthread_mutex_lock(&s->mu);
        if (rc < 0 && !s->failed) {
            s->failed = true;
            snprintf(s->error, sizeof s->error, "page %ld: %s", b->page, err);
        } else if (rc == 0) {
            s->totals.fetched += c.fetched;
            s->totals.staged += c.staged;
            s->totals.duplicates += c.duplicates;
            s->totals.rejected += c.rejected;
            s->totals.pages_rejected += c.pages_rejected;
            s->totals.pages_loaded += b->page_rejected ? 0 : 1;
            us_debug("page %ld committed: %ld staged, %ld duplicates, %ld rejected", b->page,
                     c.staged, c.duplicates, c.rejected);
        }
        s->busy--;
        b->next = s->free_list;
        s->free_list = b;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

ld_sink *ld_sink_start(ld_pg **pg, int n, int64_t load_id, int depth, char *err, size_t errlen)
{
    ld_sink *s = calloc(1, sizeof *s);
    if (!s)
        return us_errp(err, errlen, "out of memory");
    s->load_id = load_id;
    s->depth = depth < 1 ? 1 : depth;
    s->n_workers = n < 1 ? 1 : (n > LD_SINK_MAX ? LD_SINK_MAX : n);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->started = true;
    for (int i = 0; i < s->n_workers; i++) {
        worker *w = &s->workers[i];
        w->sink = s;
        w->pg = pg[i];
        if (pthread_create(&w->thread, NULL, sink_main, w) != 0) {
            ld_sink_free(s);
            return us_errp(err, errlen, "cannot start a database thread");
        }
        w->started = true;
    }
    return s;
}

ld_batch *ld_sink_batch(ld_sink *s)
{
    pthread_mutex_lock(&s->mu);
    ld_batch *b = s->free_list;
    if (b)
        s->free_list = b->next;
    pthread_mutex_unlock(&s->mu);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return NULL;
        ld_page_out_init(&b->out);
    }
    ld_page_out_reset(&b->out);
    b->next = NULL;
    b->page_rejected = false;
    return b;
}

void ld_sink_release(ld_sink *s, ld_batch *b)
{
    pthread_mutex_lock(&s->mu);
    b->next = s->free_list;
    s->free_list = b;
    pthread_mutex_unlock(&s->mu);
}

int ld_sink_submit(ld_sink *s, ld_batch *b)
{
    pthread_mutex_lock(&s->mu);
    while (s->queued >= s->depth && !s->failed)
        pthread_cond_wait(&s->cv, &s->mu);
    if (s->failed) {
        b->next = s->free_list;
        s->free_list = b;
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    s->queued++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

bool ld_sink_failed(ld_sink *s)
{
    pthread_mutex_lock(&s->mu);
    bool f = s->failed;
    pthread_mutex_unlock(&s->mu);
    return f;
}

int ld_sink_finish(ld_sink *s, ld_sink_totals *totals, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_workers; i++)
        if (s->workers[i].started) {
            pthread_join(s->workers[i].thread, NULL);
            s->workers[i].started = false;
        }
    s->started = false;
    *totals = s->totals;
    if (s->failed)
        return us_errf(err, errlen, "%s", s->error);
    return 0;
}

void ld_sink_free(ld_sink *s)
{
    if (!s)
        return;
    if (s->started) {
        ld_sink_totals t;
        char err[8];
        ld_sink_finish(s, &t, err, sizeof err);
    }
    while (s->free_list) {
        ld_batch *b = s->free_list;
        s->free_list = b->next;
        batch_free(b);
    }
    while (s->head) {
        ld_batch *b = s->head;
        s->head = b->next;
        batch_free(b);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
