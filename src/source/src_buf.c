#include "src_buf.h"

#include <stdlib.h>

bool src_buf_grow(src_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->cap - b->len >= extra)
        return true;
    size_t need = b->len + extra;
    if (need < b->len) { /* overflow */
        b->oom = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void src_buf_free(src_buf *b)
{
    free(b->data);
    *b = (src_buf){0};
}

char *src_buf_steal(src_buf *b, size_t *len)
{
    char *p = b->data;
    *len = b->len;
    *b = (src_buf){0};
    return p;
}

void src_buf_fill(src_buf *b, char c, size_t n)
{
    if (n && src_buf_room(b, n)) {
        memset(b->data + b->len, c, n);
        b->len += n;
    }
}

size_t src_fmt_i64(char *out, int64_t v)
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

void src_buf_put_i64(src_buf *b, int64_t v)
{
    char tmp[24];
    src_buf_put(b, tmp, src_fmt_i64(tmp, v));
}
