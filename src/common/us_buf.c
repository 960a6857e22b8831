/* us_buf: see us_buf.h. */
#include "us_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool us_buf_grow(us_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->cap - b->len > extra)
        return true;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void us_buf_fill(us_buf *b, char c, size_t n)
{
    if (us_buf_room(b, n)) {
        memset(b->data + b->len, c, n);
        us_buf_commit(b, n);
    }
}

size_t us_fmt_i64(char *out, int64_t v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}

void us_buf_put_i64(us_buf *b, int64_t v)
{
    char tmp[24];
    us_buf_put(b, tmp, us_fmt_i64(tmp, v));
}

void us_buf_printf(us_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        us_buf_put(b, small, (size_t)n);
        return;
    }
    if (!us_buf_grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *us_buf_str(const us_buf *b)
{
    return b->data && !b->oom ? b->data : "";
}

void us_buf_reset(us_buf *b)
{
    b->len = 0;
    b->oom = false;
    if (b->data)
        b->data[0] = '\0';
}

void us_buf_free(us_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

char *us_buf_steal(us_buf *b, size_t *len)
{
    char *p = b->oom ? NULL : b->data;
    if (len)
        *len = p ? b->len : 0;
    if (!p)
        free(b->data);
    memset(b, 0, sizeof *b);
    return p;
}
