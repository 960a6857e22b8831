#include "ld_page.h"

#include "ld_text.h"
#include "ld_user.h"

#include <stdio.h>
#include <string.h>

void ld_page_out_init(ld_page_out *out)
{
    memset(out, 0, sizeof *out);
    ld_buf_init(&out->users);
    ld_buf_init(&out->rejects);
}

void ld_page_out_reset(ld_page_out *out)
{
    ld_buf_reset(&out->users);
    ld_buf_reset(&out->rejects);
    out->fetched = out->valid = out->rejected = 0;
}

void ld_page_out_free(ld_page_out *out)
{
    ld_buf_free(&out->users);
    ld_buf_free(&out->rejects);
}

static int put_str(ld_buf *b, const char *s)
{
    return ld_copy_value(b, s, s ? strlen(s) : 0);
}

static int put_long(ld_buf *b, long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%ld", v);
    return ld_copy_value(b, num, (size_t)n);
}

/* The lineage columns, escaped once per page and appended to every row. */
static int lineage_suffix(const ld_page_ctx *ctx, ld_buf *b)
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
                       size_t rawlen, ld_buf *b)
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
    ld_buf safe;
    ld_buf_init(&safe);
    if (ld_text_safe(&safe, reason, strlen(reason), 512) < 0)
        b->failed = 1;
    ld_copy_value(b, safe.data ? safe.data : "", safe.len);
    ld_copy_sep(b);
    ld_buf_reset(&safe);
    /* raw text: credentials removed, valid UTF-8, bounded; then escaped. */
    if (ld_text_safe(&safe, raw ? raw : "", raw ? rawlen : 0, ctx->raw_max) < 0)
        b->failed = 1;
    ld_copy_value(b, safe.data ? safe.data : "", safe.len);
    ld_buf_free(&safe);
    ld_copy_sep(b);
    put_str(b, ctx->fetched_at);
    return ld_copy_eol(b);
}

int ld_page_reject(const ld_page_ctx *ctx, const char *reason, const char *body, size_t len,
                   ld_page_out *out)
{
    return reject_line(ctx, -1, reason, body, len, &out->rejects);
}

static int reject_record(const ld_page_ctx *ctx, long index, const char *reason, json_t *user,
                         ld_page_out *out)
{
    ld_user_scrub(user);
    char *text = json_dumps(user, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = reject_line(ctx, index, reason, text, text ? strlen(text) : 0, &out->rejects);
    free(text);
    out->rejected++;
    return rc;
}

static int user_line(const ld_row *row, const ld_buf *suffix, ld_buf *b)
{
    for (int c = 0; c < LD_NCOLS; c++) {
        if (c)
            ld_copy_sep(b);
        ld_copy_value(b, row->val[c], row->len[c]);
    }
    return ld_buf_append(b, suffix->data, suffix->len);
}

/* Checks info against the request: a page of another seed or page number
 * (e.g. an outage page, randomuser-api.md §4) must not be stored as this one. */
static int check_info(const json_t *root, const ld_page_ctx *ctx, char *reason, size_t rlen)
{
    const json_t *info = json_object_get(root, "info");
    if (!info)
        return 0;
    if (!json_is_object(info)) {
        snprintf(reason, rlen, "page: info is not an object");
        return -1;
    }
    const json_t *seed = json_object_get(info, "seed");
    const json_t *page = json_object_get(info, "page");
    if (!json_is_string(seed) || strcmp(json_string_value(seed), ctx->seed) != 0) {
        snprintf(reason, rlen, "page: info.seed does not match the requested seed");
        return -1;
    }
    if (!json_is_number(page) || json_number_value(page) != (double)ctx->page) {
        snprintf(reason, rlen, "page: info.page does not match the requested page");
        return -1;
    }
    return 0;
}

static int flatten_all(json_t *results, const ld_page_ctx *ctx, ld_page_out *out)
{
    ld_buf suffix;
    ld_row row;
    char why[160];
    size_t i;
    json_t *user;
    int rc = 0;

    ld_buf_init(&suffix);
    lineage_suffix(ctx, &suffix);
    json_array_foreach(results, i, user)
    {
        out->fetched++;
        if (ld_user_flatten(user, &row, why, sizeof why) == 0) {
            user_line(&row, &suffix, &out->users);
            out->valid++;
        } else {
            reject_record(ctx, (long)i, why, user, out);
        }
    }
    if (suffix.failed || out->users.failed || out->rejects.failed)
        rc = -1;
    ld_buf_free(&suffix);
    return rc;
}

int ld_page_process(const char *body, size_t len, const ld_page_ctx *ctx, ld_page_out *out,
                    char *reason, size_t rlen)
{
    json_error_t jerr;
    int status = LD_PAGE_BAD;

    ld_page_out_reset(out);
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson's text ends with "near '<token>'": page data, so cut it. */
        char *near = strstr(jerr.text, " near ");
        if (near)
            *near = '\0';
        snprintf(reason, rlen, "page: not JSON (%.100s at byte %d)", jerr.text, jerr.position);
        return LD_PAGE_BAD;
    }
    json_t *results = json_object_get(root, "results");
    if (!json_is_object(root) || !json_is_array(results)) {
        snprintf(reason, rlen, "page: no results array");
        goto out;
    }
    if (check_info(root, ctx, reason, rlen) < 0)
        goto out;
    if (flatten_all(results, ctx, out) < 0) {
        status = -1;
        goto out;
    }
    status = LD_PAGE_OK;
    if ((long)json_array_size(results) < ctx->expected) {
        snprintf(reason, rlen, "page: %zu users instead of %ld", json_array_size(results),
                 ctx->expected);
        status = LD_PAGE_SHORT;
    }
out:
    json_decref(root);
    return status;
}
