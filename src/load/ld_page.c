#include "ld_page.h"

#include "ld_text.h"
#include "ld_user.h"
#include "us_err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ld_page_out_init(ld_page_out *out)
{
    memset(out, 0, sizeof *out);
    out->users = (us_buf){0};
    out->rejects = (us_buf){0};
}

void ld_page_out_reset(ld_page_out *out)
{
    us_buf_reset(&out->users);
    us_buf_reset(&out->rejects);
    out->fetched = out->valid = out->rejected = 0;
}

void ld_page_out_free(ld_page_out *out)
{
    us_buf_free(&out->users);
    us_buf_free(&out->rejects);
}

static int put_str(us_buf *b, const char *s)
{
    return ld_copy_value(b, s, s ? strlen(s) : 0);
}

static int put_long(us_buf *b, long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%ld", v);
    return ld_copy_value(b, num, (size_t)n);
}

/* The lineage columns, escaped once per page and appended to every row. */
static int lineage_suffix(const ld_page_ctx *ctx, us_buf *b)
{
    ld_copy_sep(b);
    put_str(b, ctx->source_url);
    ld_copy_sep(b);
    put_str(b, ctx->seed);
    ld_copy_sep(b);
    put_long(b, ctx->page);
    ld_copy_sep(b);
    put_str(b, ctx->fetched_at);
    ld_copy_sep(b);
    put_str(b, ctx->run_id);
    return ld_copy_eol(b);
}

/* One staging.rejects line; index < 0 means the whole page. */
static int reject_line(const ld_page_ctx *ctx, long index, const char *reason, const char *raw,
                       size_t rawlen, us_buf *b)
{
    put_str(b, ctx->run_id);
    ld_copy_sep(b);
    put_str(b, ctx->source_url);
    ld_copy_sep(b);
    put_str(b, ctx->seed);
    ld_copy_sep(b);
    put_long(b, ctx->page);
    ld_copy_sep(b);
    if (index < 0)
        ld_copy_value(b, NULL, 0);
    else
        put_long(b, index);
    ld_copy_sep(b);
    /* the reason may quote a server's error text: made safe like raw text */
    us_buf safe = {0};
    if (ld_text_safe(&safe, reason, strlen(reason), 512) < 0)
        b->oom = true;
    ld_copy_value(b, safe.data ? safe.data : "", safe.len);
    ld_copy_sep(b);
    us_buf_reset(&safe);
    /* raw text: credentials removed, valid UTF-8, bounded; then escaped. */
    if (ld_text_safe(&safe, raw ? raw : "", raw ? rawlen : 0, ctx->raw_max) < 0)
        b->oom = true;
    ld_copy_value(b, safe.data ? safe.data : "", safe.len);
    us_buf_free(&safe);
    ld_copy_sep(b);
    put_str(b, ctx->fetched_at);
    return ld_copy_eol(b);
}

int ld_page_reject(const ld_page_ctx *ctx, const char *reason, const char *body, size_t len,
                   ld_page_out *out)
{
    return reject_line(ctx, -1, reason, body, len, &out->rejects);
}

/* One user line per valid record, one reject line per invalid one. */
typedef struct flatten_ctx {
    const ld_page_ctx *ctx;
    ld_page_out *out;
    us_buf suffix; /* the lineage columns, escaped once per page */
} flatten_ctx;

static int user_line(const ld_row *row, const us_buf *suffix, us_buf *b)
{
    for (int c = 0; c < LD_NCOLS; c++) {
        if (c)
            ld_copy_sep(b);
        ld_copy_value(b, row->val[c], row->len[c]);
    }
    us_buf_put(b, suffix->data, suffix->len);
    return b->oom ? -1 : 0;
}

static int on_record(const ld_record *rec, long index, void *arg)
{
    flatten_ctx *fc = arg;
    ld_page_out *out = fc->out;
    ld_row row;
    char why[160];
    out->fetched++;
    if (ld_user_flatten(rec, &row, why, sizeof why) == 0) {
        out->valid++;
        return user_line(&row, &fc->suffix, &out->users);
    }
    /* raw text: the record's own bytes; reject_line removes credentials */
    out->rejected++;
    return reject_line(fc->ctx, index, why, rec->raw, rec->raw_len, &out->rejects);
}

int ld_seed_nat_index(const char *seed)
{
    size_t n = strlen(seed);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)seed[i] >= 0x80)
            return LD_SEED_PLAIN;
    if (n != 18)
        return LD_SEED_PLAIN;
    /* parseInt(s, 16): the leading hex digits, NaN when there are none */
    int idx = -1;
    for (int i = 16; i < 18 && isxdigit((unsigned char)seed[i]); i++) {
        int c = tolower((unsigned char)seed[i]);
        idx = (idx < 0 ? 0 : idx * 16) + (isdigit(c) ? c - '0' : c - 'a' + 10);
    }
    return idx >= 0 && idx <= 20 ? idx : LD_SEED_BAD_NAT;
}

/* Checks info against the request: a page of another seed or page number
 * (e.g. an outage page, randomuser-api.md §4) must not be stored as this one. */
static int check_info(const ld_json_page *jp, const ld_page_ctx *ctx, char *reason, size_t rlen)
{
    if (!jp->has_info)
        return 0;
    const ld_jval *seed = &jp->info_seed, *page = &jp->info_page;
    size_t want = strlen(ctx->seed);
    char suffix[9] = ""; /* two hex digits: the index is 0-20 */
    int nat = ld_seed_nat_index(ctx->seed);
    if (nat >= 0)
        snprintf(suffix, sizeof suffix, "%02x", nat);
    size_t extra = strlen(suffix);
    if (seed->type != LD_J_STRING || seed->n != want + extra ||
        memcmp(seed->s, ctx->seed, want) != 0 || memcmp(seed->s + want, suffix, extra) != 0)
        return us_errf(reason, rlen, "page: info.seed does not match the requested seed");
    if (page->type != LD_J_INT || page->i != ctx->page)
        return us_errf(reason, rlen, "page: info.page does not match the requested page");
    return 0;
}

int ld_page_process(const char *body, size_t len, const ld_page_ctx *ctx, ld_page_out *out,
                    char *reason, size_t rlen)
{
    ld_json_page jp;
    flatten_ctx fc = {.ctx = ctx, .out = out};

    ld_page_out_reset(out);
    fc.suffix = (us_buf){0};
    if (lineage_suffix(ctx, &fc.suffix) < 0) {
        us_buf_free(&fc.suffix);
        return -1;
    }
    int rc = ld_json_scan(body, len, &jp, on_record, &fc, reason, rlen);
    us_buf_free(&fc.suffix);
    if (rc == -2 || out->users.oom || out->rejects.oom)
        return -1;
    if (rc < 0 && strncmp(reason, "page: ", 6) != 0) {
        char why[200];
        snprintf(why, sizeof why, "%s", reason);
        snprintf(reason, rlen, "page: not JSON (%s)", why);
    }
    if (rc < 0 || check_info(&jp, ctx, reason, rlen) < 0) {
        ld_page_out_reset(out);
        return LD_PAGE_BAD;
    }
    if (jp.n_results < ctx->expected) {
        snprintf(reason, rlen, "page: %ld users instead of %ld", jp.n_results, ctx->expected);
        return LD_PAGE_SHORT;
    }
    return LD_PAGE_OK;
}
