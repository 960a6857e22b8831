#include "ld_run.h"

#include "ld_page.h"
#include "ld_sink.h"
#include "us_err.h"
#include "us_log.h"
#include "us_util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t ld_run_stop = 0;

/* State of a run while it goes. */
typedef struct run_state {
    const ld_run_opts *o;
    ld_fetcher *fetch;
    ld_sink *sink;
    uint64_t rng;
    long retries;
    long short_pages;
    long next_page, end_page; /* end_page: one past the last page */
    uint64_t t0_ns;
    bool oom;
} run_state;

static void iso_time(uint64_t wall_us, char *out, size_t n)
{
    time_t s = (time_t)(wall_us / 1000000u);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(wall_us % 1000000u));
}

/* Spends one retry of the run's budget if the page may have another try. */
static bool may_retry(run_state *st, const ld_fetch_job *job)
{
    if (ld_run_stop || job->attempts >= st->o->retry.max_attempts ||
        st->retries >= st->o->retry.max_retries)
        return false;
    st->retries++;
    return true;
}

static void retry_job(run_state *st, ld_fetch_job *job, const char *why)
{
    double d = ld_retry_delay(&st->o->retry, job->attempts, job->retry_after, &st->rng);
    us_warn("page %ld: %s; retry %d in %.2f s", job->page, why, job->attempts, d);
    ld_fetch_retry(st->fetch, job, d);
}

/* What went wrong with a transfer, for logs and rejects (no payload). */
static void transfer_reason(const ld_fetch_job *job, char *out, size_t n)
{
    if (job->curl_code != CURLE_OK)
        snprintf(out, n, "fetch: %s",
                 job->curl_error[0] ? job->curl_error : curl_easy_strerror(job->curl_code));
    else
        snprintf(out, n, "fetch: HTTP %ld", job->http_status);
}

static void page_ctx(run_state *st, const ld_fetch_job *job, ld_page_ctx *ctx, char *url_buf,
                     char *time_buf)
{
    ctx->source_url = url_buf;
    ctx->seed = st->o->fetch.seed;
    ctx->page = job->page;
    ctx->expected = st->o->fetch.results;
    iso_time(job->fetched_wall_us ? job->fetched_wall_us : us_wall_us(), time_buf, 64);
    ctx->fetched_at = time_buf;
    ctx->run_id = st->o->run_id;
    ctx->raw_max = st->o->raw_max;
}

/* Gives up on a page: one whole-page reject row with the reason. */
static int reject_page(run_state *st, ld_fetch_job *job, ld_batch *b, const char *reason)
{
    char *url = ld_fetch_page_url(st->fetch, job->page);
    char when[64];
    ld_page_ctx ctx;
    if (!url)
        return -1;
    page_ctx(st, job, &ctx, url, when);
    us_warn("page %ld rejected after %d attempt(s): %s", job->page, job->attempts, reason);
    ld_page_out_reset(&b->out);
    int rc = ld_page_reject(&ctx, reason, job->body.data, job->body.len, &b->out);
    free(url);
    b->page = job->page;
    b->page_rejected = true;
    b->retries_total = st->retries;
    return rc < 0 || b->out.rejects.oom ? -1 : ld_sink_submit(st->sink, b);
}

/* A transfer that returned 200: parse it, then load, retry or reject it. */
static int handle_body(run_state *st, ld_fetch_job *job, ld_batch *b)
{
    char *url = ld_fetch_page_url(st->fetch, job->page);
    char when[64], reason[256] = "";
    ld_page_ctx ctx;
    if (!url)
        return -1;
    page_ctx(st, job, &ctx, url, when);
    int status = ld_page_process(job->body.data ? job->body.data : "", job->body.len, &ctx, &b->out,
                                 reason, sizeof reason);
    free(url);
    if (status < 0)
        return -1;
    if (status != LD_PAGE_OK && may_retry(st, job)) {
        ld_sink_release(st->sink, b);
        retry_job(st, job, reason);
        return 1; /* job lives on */
    }
    if (status == LD_PAGE_BAD)
        return reject_page(st, job, b, reason);
    if (status == LD_PAGE_SHORT) {
        us_warn("page %ld: %s; loading what came", job->page, reason);
        st->short_pages++;
    }
    b->page = job->page;
    b->retries_total = st->retries;
    return ld_sink_submit(st->sink, b);
}

/* Returns 1 when the job was queued again, 0 when done with, -1 on error. */
static int handle_job(run_state *st, ld_fetch_job *job)
{
    char reason[320];
    ld_batch *b = ld_sink_batch(st->sink);
    if (!b)
        return -1;
    ld_attempt_class cls = ld_retry_classify(job->curl_code, job->http_status);
    if (cls == LD_ATTEMPT_OK)
        return handle_body(st, job, b);
    transfer_reason(job, reason, sizeof reason);
    if (cls == LD_ATTEMPT_RETRY && may_retry(st, job)) {
        ld_sink_release(st->sink, b);
        retry_job(st, job, reason);
        return 1;
    }
    return reject_page(st, job, b, reason);
}

/* Queues more pages while there is room and, in follow mode, the rate
 * allows. Returns the milliseconds until the rate allows the next page. */
static int schedule(run_state *st, char *err, size_t errlen)
{
    const ld_run_opts *o = st->o;
    size_t room = (size_t)o->fetch.concurrency * 2;
    while (!ld_run_stop && st->next_page < st->end_page && ld_fetch_pending(st->fetch) < room) {
        if (o->follow && o->rate > 0) {
            /* page k may start k * results / rate seconds after the start */
            double at =
                (double)(st->next_page - o->first_page) * (double)o->fetch.results / o->rate;
            double now = (double)(us_mono_ns() - st->t0_ns) / 1e9;
            if (at > now)
                return (int)((at - now) * 1000.0) + 1;
        }
        if (ld_fetch_add(st->fetch, st->next_page, err, errlen) < 0)
            return -1;
        st->next_page++;
    }
    return 200;
}

static int loop(run_state *st, char *err, size_t errlen)
{
    for (;;) {
        int wait = schedule(st, err, errlen);
        if (wait < 0)
            return -1;
        if (ld_fetch_pending(st->fetch) == 0 && (ld_run_stop || st->next_page >= st->end_page))
            return 0;
        if (ld_run_stop)
            return 0; /* jobs not finished are dropped: nothing of them was counted */
        ld_fetch_job *job = ld_fetch_next(st->fetch, wait > 200 ? 200 : wait);
        if (!job)
            continue;
        int rc = handle_job(st, job);
        if (rc != 1)
            ld_fetch_job_free(job);
        if (rc < 0) {
            if (ld_sink_failed(st->sink))
                return 0; /* the sink's error is reported by finish */
            st->oom = true;
            return us_errf(err, errlen, "out of memory");
        }
    }
}

static const char *status_of(int code)
{
    switch (code) {
    case LD_EXIT_OK:
        return "ok";
    case LD_EXIT_PARTIAL:
        return "partial";
    case LD_EXIT_INTERRUPTED:
        return "interrupted";
    default:
        return "failed";
    }
}

static void fill_result(const run_state *st, const ld_sink_totals *t, ld_run_result *res)
{
    res->fetched = t->fetched;
    res->staged = t->staged;
    res->duplicates = t->duplicates;
    res->rejected = t->rejected;
    res->pages_loaded = t->pages_loaded;
    res->pages_rejected = t->pages_rejected;
    res->short_pages = st->short_pages;
    res->retries = st->retries;
    res->seconds = (double)(us_mono_ns() - st->t0_ns) / 1e9;
}

static int exit_code_of(const run_state *st, int loop_rc, int sink_rc, const ld_sink_totals *t)
{
    if (sink_rc < 0)
        return LD_EXIT_DATABASE;
    if (loop_rc < 0)
        return LD_EXIT_INTERNAL;
    /* in --follow a signal is the normal stop; otherwise a missing page is an interruption */
    if (ld_run_stop && !st->o->follow &&
        t->pages_loaded + t->pages_rejected < st->end_page - st->o->first_page)
        return LD_EXIT_INTERRUPTED;
    return t->pages_rejected > 0 ? LD_EXIT_PARTIAL : LD_EXIT_OK;
}

/* n connections, each with its temporary table (and the baseline's statement). */
static int connect_all(const ld_run_opts *o, ld_pg **pgs, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++)
        if (!(pgs[i] = ld_pg_connect(&o->pg, err, errlen)) ||
            ld_pg_prepare(pgs[i], err, errlen) < 0 ||
            (o->row_inserts && ld_pg_use_row_inserts(pgs[i], err, errlen) < 0))
            return -1;
    return 0;
}

/* Runs the loop and the sink to the end, then records the run's outcome. */
static void run_to_end(run_state *st, ld_pg *pg, ld_run_result *res, char *err, size_t errlen)
{
    ld_sink_totals totals = {0};
    char serr[512] = "";
    int loop_rc = loop(st, err, errlen);
    int sink_rc = ld_sink_finish(st->sink, &totals, serr, sizeof serr);
    if (sink_rc < 0)
        snprintf(err, errlen, "%s", serr);
    fill_result(st, &totals, res);
    res->exit_code = exit_code_of(st, loop_rc, sink_rc, &totals);
    res->status = status_of(res->exit_code);
    /* best effort: after a database error the connection may be gone */
    if (ld_pg_run_end(pg, res->load_id, res->status, res->exit_code, st->retries, res->seconds,
                      serr, sizeof serr) < 0 &&
        res->exit_code == LD_EXIT_OK) {
        snprintf(err, errlen, "%s", serr);
        res->exit_code = LD_EXIT_DATABASE;
        res->status = "failed";
    }
}

int ld_run_execute(const ld_run_opts *o, ld_run_result *res, char *err, size_t errlen)
{
    run_state st = {.o = o, .rng = o->rng_seed ? o->rng_seed : 0x9E3779B97F4A7C15ULL};
    ld_pg *pgs[16] = {0};
    int n_pg = o->db_connections < 1 ? 1 : (o->db_connections > 16 ? 16 : o->db_connections);

    memset(res, 0, sizeof *res);
    res->exit_code = LD_EXIT_DATABASE;
    res->status = "failed";
    st.next_page = o->first_page;
    st.end_page = o->pages < 0 ? (long)2147483647 : o->first_page + o->pages;
    st.t0_ns = us_mono_ns();
    if (connect_all(o, pgs, n_pg, err, errlen) < 0)
        goto done;
    if (!(st.fetch = ld_fetch_new(&o->fetch, err, errlen))) {
        res->exit_code = LD_EXIT_USAGE;
        goto done;
    }
    ld_run_info info = {o->run_id,     ld_fetch_public_url(st.fetch), o->fetch.seed,
                        o->first_page, o->follow ? -1 : o->pages,     o->fetch.results};
    if (ld_pg_run_begin(pgs[0], &info, &res->load_id, err, errlen) < 0)
        goto done;
    if (!(st.sink = ld_sink_start(pgs, n_pg, res->load_id, n_pg + 1, err, errlen))) {
        res->exit_code = LD_EXIT_INTERNAL;
        goto done;
    }
    us_info("run %s (load %lld): %s, seed %s, pages %ld-%ld%s, %ld users per page", o->run_id,
            (long long)res->load_id, info.source_url, o->fetch.seed, o->first_page, st.end_page - 1,
            o->follow ? " (follow)" : "", o->fetch.results);
    run_to_end(&st, pgs[0], res, err, errlen);
done:
    ld_sink_free(st.sink);
    ld_fetch_free(st.fetch);
    for (int i = 0; i < n_pg; i++)
        ld_pg_free(pgs[i]);
    return res->exit_code == LD_EXIT_OK || res->exit_code == LD_EXIT_PARTIAL ||
                   res->exit_code == LD_EXIT_INTERRUPTED
               ? 0
               : -1;
}
