#include "src_data.h"
#include "us_err.h"
#include "src_nat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const nat_kinds[SRC_NAT_LISTS] = {"male",   "female", "last",
                                                     "street", "city",   "state"};
static const char *const common_kinds[SRC_COMMON_LISTS] = {"tz", "password", "adjective", "animal"};

static int kind_index(const char *const *kinds, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(kinds[i]) == len && memcmp(kinds[i], s, len) == 0)
            return i;
    return -1;
}

static int list_push(src_list *l, src_str v)
{
    /* Grow in powers of two: n is a power of two exactly when full. */
    if ((l->n & (l->n - 1)) == 0) {
        size_t cap = l->n ? (size_t)l->n * 2 : 1;
        src_str *p = realloc(l->v, cap * sizeof *p);
        if (!p)
            return -1;
        l->v = p;
    }
    l->v[l->n++] = v;
    return 0;
}

/* Splits one line into at most 3 TAB-separated fields; returns how many. */
static int split_fields(const char *s, size_t n, const char **f, size_t *fl)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '\t') {
            if (k == 3)
                return 4;
            f[k] = s + start;
            fl[k++] = i - start;
            start = i + 1;
        }
    }
    return k;
}

/* A value the writers may copy into any format: not empty, no control
 * characters, quotes or backslashes. */
static bool value_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F)
            return false;
    }
    return true;
}

static int parse_line(src_data *d, int nat, const char *s, size_t n, const char **why)
{
    const char *f[3];
    size_t fl[3];
    int k = split_fields(s, n, f, fl);
    bool is_common = nat < 0;
    int kind = is_common ? kind_index(common_kinds, SRC_COMMON_LISTS, f[0], fl[0])
                         : kind_index(nat_kinds, SRC_NAT_LISTS, f[0], fl[0]);
    if (kind < 0 || k < 2 || k > 3) {
        *why = kind < 0 ? "unknown list" : "expected 2 or 3 TAB-separated fields";
        return -1;
    }
    bool two = (is_common && kind == SRC_COMMON_TZ) || (!is_common && kind <= SRC_LIST_LAST);
    if ((k == 3) != two || !value_ok(f[1], fl[1]) || (k == 3 && !value_ok(f[2], fl[2]))) {
        *why = "bad value";
        return -1;
    }
    /* Bounds the generator's fixed buffers rely on: e-mail parts and word
     * lists short, every value under 128 bytes. */
    bool words = is_common && (kind == SRC_COMMON_ADJECTIVE || kind == SRC_COMMON_ANIMAL);
    if (fl[1] > 127 || (k == 3 && fl[2] > (two && !is_common ? 64 : 127)) ||
        (words && fl[1] > 20)) {
        *why = "value too long";
        return -1;
    }
    src_str v = {f[1], (uint32_t)fl[1], k == 3 ? f[2] : NULL, k == 3 ? (uint32_t)fl[2] : 0};
    src_list *l = is_common ? &d->common[kind] : &d->nat[nat][kind];
    if (list_push(l, v) < 0) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}

int src_data_parse(src_data *d, const char *name, const char *text, size_t len, char *err,
                   size_t errlen)
{
    bool common = strcmp(name, "common") == 0;
    int nat = common ? -1 : src_nat_from_code(name, strlen(name));
    if (!common && (nat < 0 || nat >= SRC_DATA_NATS))
        return us_errf(err, errlen, "data file %s: unknown nationality", name);
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *why = NULL;
        lineno++;
        if (end > pos && text[pos] != '#' && parse_line(d, nat, text + pos, end - pos, &why) < 0)
            return us_errf(err, errlen, "data file %s:%d: %s", name, lineno, why);
        pos = end + 1;
    }
    return 0;
}

static int check_complete(const src_data *d, char *err, size_t errlen)
{
    for (int k = 0; k < SRC_COMMON_LISTS; k++)
        if (d->common[k].n == 0)
            return us_errf(err, errlen, "data: list %s is empty", common_kinds[k]);
    for (int n = 0; n < SRC_DATA_NATS; n++)
        for (int k = 0; k < SRC_NAT_LISTS; k++)
            if (d->nat[n][k].n == 0)
                return us_errf(err, errlen, "data: list %s of %s is empty", nat_kinds[k],
                               src_nat_code(n));
    return 0;
}

int src_data_load(src_data *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    for (size_t i = 0; i < src_data_blob_count; i++) {
        const src_blob *b = &src_data_blobs[i];
        if (src_data_parse(d, b->name, (const char *)b->data, b->len, err, errlen) < 0)
            goto fail;
    }
    if (check_complete(d, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    src_data_free(d);
    return -1;
}

void src_data_free(src_data *d)
{
    for (int n = 0; n < SRC_DATA_NATS; n++)
        for (int k = 0; k < SRC_NAT_LISTS; k++)
            free(d->nat[n][k].v);
    for (int k = 0; k < SRC_COMMON_LISTS; k++)
        free(d->common[k].v);
    memset(d, 0, sizeof *d);
}
