#include "ld_fetch.h"
#include "us_err.h"

#include "ld_retry.h"
#include "us_util.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct ld_fetcher {
    CURLM *multi;
    ld_fetch_opts opts;
    char *base;            /* as configured */
    char *public_base;     /* without credentials */
    char *query;           /* "results=N&seed=S" (+ extra), escaped */
    ld_fetch_job *waiting; /* sorted by not_before_ns */
    ld_fetch_job *done_head, *done_tail;
    size_t running, pending;
    CURL **idle;           /* reusable easy handles (keep their connections warm) */
    ld_fetch_job **active; /* concurrency slots; NULL = free */
    size_t n_idle;
};

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

/* The configured URL with user name and password taken out. */
static char *strip_credentials(const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *out = NULL, *copy = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(err, errlen, "US_LOAD_URL is not a valid URL");
        goto done;
    }
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
        snprintf(err, errlen, "US_LOAD_URL is not a valid URL");
        goto done;
    }
    copy = strdup(out);
done:
    curl_free(out);
    curl_url_cleanup(u);
    return copy;
}

ld_fetcher *ld_fetch_new(const ld_fetch_opts *opts, char *err, size_t errlen)
{
    ld_fetcher *f = calloc(1, sizeof *f);
    char *seed = NULL;
    if (!f)
        goto oom;
    f->opts = *opts;
    f->multi = curl_multi_init();
    f->idle = calloc((size_t)opts->concurrency, sizeof *f->idle);
    f->active = calloc((size_t)opts->concurrency, sizeof *f->active);
    f->base = strdup(opts->base_url);
    seed = curl_easy_escape(NULL, opts->seed, 0);
    if (!f->multi || !f->idle || !f->active || !f->base || !seed)
        goto oom;
    f->public_base = strip_credentials(opts->base_url, err, errlen);
    if (!f->public_base)
        goto fail;
    int extra = opts->extra_query && *opts->extra_query;
    f->query = dup_printf("results=%ld&seed=%s%s%s", opts->results, seed, extra ? "&" : "",
                          extra ? opts->extra_query : "");
    if (!f->query)
        goto oom;
    curl_free(seed);
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)opts->concurrency);
    return f;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    curl_free(seed);
    ld_fetch_free(f);
    return NULL;
}

void ld_fetch_job_free(ld_fetch_job *job)
{
    if (!job)
        return;
    free(job->url);
    us_buf_free(&job->body);
    free(job);
}

static void free_list(ld_fetch_job *j)
{
    while (j) {
        ld_fetch_job *next = j->next;
        ld_fetch_job_free(j);
        j = next;
    }
}

void ld_fetch_free(ld_fetcher *f)
{
    if (!f)
        return;
    free_list(f->waiting);
    free_list(f->done_head);
    for (size_t i = 0; i < f->n_idle; i++)
        curl_easy_cleanup(f->idle[i]);
    /* jobs still running hold an easy handle each: remove and free them */
    for (size_t i = 0; f->active && i < (size_t)f->opts.concurrency; i++) {
        ld_fetch_job *job = f->active[i];
        if (!job)
            continue;
        curl_multi_remove_handle(f->multi, job->easy);
        curl_easy_cleanup(job->easy);
        ld_fetch_job_free(job);
    }
    if (f->multi)
        curl_multi_cleanup(f->multi);
    free(f->active);
    free(f->idle);
    free(f->base);
    free(f->public_base);
    free(f->query);
    free(f);
}

static char *page_url(const char *base, const char *query, long page)
{
    const char *sep = strchr(base, '?') ? "&" : "?";
    return dup_printf("%s%s%s&page=%ld", base, sep, query, page);
}

char *ld_fetch_page_url(const ld_fetcher *f, long page)
{
    return page_url(f->public_base, f->query, page);
}

const char *ld_fetch_public_url(const ld_fetcher *f)
{
    return f->public_base;
}

size_t ld_fetch_pending(const ld_fetcher *f)
{
    return f->pending;
}

/* Inserts job into the waiting list, keeping it sorted by start time. */
static void enqueue(ld_fetcher *f, ld_fetch_job *job)
{
    ld_fetch_job **p = &f->waiting;
    while (*p && (*p)->not_before_ns <= job->not_before_ns)
        p = &(*p)->next;
    job->next = *p;
    *p = job;
}

int ld_fetch_add(ld_fetcher *f, long page, char *err, size_t errlen)
{
    ld_fetch_job *job = calloc(1, sizeof *job);
    if (!job || !(job->url = page_url(f->base, f->query, page))) {
        free(job);
        return us_errf(err, errlen, "out of memory");
    }
    job->page = page;
    job->retry_after = -1;
    job->body = (us_buf){0};
    job->not_before_ns = us_mono_ns();
    enqueue(f, job);
    f->pending++;
    return 0;
}

void ld_fetch_retry(ld_fetcher *f, ld_fetch_job *job, double delay_s)
{
    job->not_before_ns = us_mono_ns() + (uint64_t)(delay_s * 1e9);
    enqueue(f, job);
    f->pending++;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    ld_fetch_job *job = arg;
    size_t len = size * n;
    us_buf_put(&job->body, data, len);
    if (job->body.oom)
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    return len;
}

/* Size cap: checked through the progress callback so an endless body is cut. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    size_t max = *(const size_t *)arg;
    return (size_t)dlnow > max || (size_t)dltotal > max;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    ld_fetch_job *job = arg;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && len < 256 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char value[256];
        memcpy(value, data + sizeof name - 1, len - (sizeof name - 1));
        value[len - (sizeof name - 1)] = '\0';
        char *v = us_str_trim(value);
        double s;
        if (ld_retry_after_parse(v, time(NULL), &s) == 0)
            job->retry_after = s;
    }
    return len;
}

static int start(ld_fetcher *f, ld_fetch_job *job)
{
    CURL *e = f->n_idle ? f->idle[--f->n_idle] : curl_easy_init();
    if (!e)
        return -1;
    curl_easy_reset(e);
    us_buf_reset(&job->body);
    job->retry_after = -1;
    job->http_status = 0;
    job->curl_error[0] = '\0';
    job->attempts++;
    job->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, job->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, job);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, job);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &f->opts.max_body);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->curl_error);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, f->opts.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, f->opts.timeout_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, f->opts.user_agent);
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        job->easy = NULL;
        return -1;
    }
    for (size_t i = 0; i < (size_t)f->opts.concurrency; i++)
        if (!f->active[i]) {
            f->active[i] = job;
            break;
        }
    f->running++;
    return 0;
}

static void start_due(ld_fetcher *f, uint64_t now)
{
    while (f->waiting && f->running < (size_t)f->opts.concurrency &&
           f->waiting->not_before_ns <= now) {
        ld_fetch_job *job = f->waiting;
        f->waiting = job->next;
        job->next = NULL;
        if (start(f, job) < 0) {
            /* could not even start: report it like a failed transfer */
            job->curl_code = CURLE_FAILED_INIT;
            snprintf(job->curl_error, sizeof job->curl_error, "could not start the transfer");
            job->next = NULL;
            if (f->done_tail)
                f->done_tail->next = job;
            else
                f->done_head = job;
            f->done_tail = job;
        }
    }
}

static void collect(ld_fetcher *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        ld_fetch_job *job = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&job);
        job->curl_code = m->data.result;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &job->http_status);
        job->fetched_wall_us = us_wall_us();
        curl_multi_remove_handle(f->multi, e);
        if (f->n_idle < (size_t)f->opts.concurrency)
            f->idle[f->n_idle++] = e;
        else
            curl_easy_cleanup(e);
        job->easy = NULL;
        for (size_t i = 0; i < (size_t)f->opts.concurrency; i++)
            if (f->active[i] == job)
                f->active[i] = NULL;
        f->running--;
        if (f->done_tail)
            f->done_tail->next = job;
        else
            f->done_head = job;
        f->done_tail = job;
    }
}

ld_fetch_job *ld_fetch_next(ld_fetcher *f, int timeout_ms)
{
    uint64_t deadline = us_mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
    for (;;) {
        uint64_t now = us_mono_ns();
        start_due(f, now);
        int still;
        curl_multi_perform(f->multi, &still);
        collect(f);
        if (f->done_head) {
            ld_fetch_job *job = f->done_head;
            f->done_head = job->next;
            if (!f->done_head)
                f->done_tail = NULL;
            job->next = NULL;
            f->pending--;
            return job;
        }
        now = us_mono_ns();
        if (now >= deadline)
            return NULL;
        uint64_t wait = deadline - now;
        if (f->waiting && f->running < (size_t)f->opts.concurrency) {
            uint64_t due = f->waiting->not_before_ns > now ? f->waiting->not_before_ns - now : 0;
            if (due < wait)
                wait = due;
        }
        curl_multi_poll(f->multi, NULL, 0, (int)(wait / 1000000ULL) + (wait ? 1 : 0), NULL);
    }
}
