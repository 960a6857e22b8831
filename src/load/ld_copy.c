#include "ld_copy.h"

#include <stdlib.h>
#include <string.h>

void ld_buf_init(ld_buf *b)
{
    memset(b, 0, sizeof *b);
}

void ld_buf_free(ld_buf *b)
{
    free(b->data);
    ld_buf_init(b);
}

void ld_buf_reset(ld_buf *b)
{
    b->len = 0;
    b->failed = 0;
}

int ld_buf_reserve(ld_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->cap - b->len > extra)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len <= extra) {
        if (cap > (size_t)-1 / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int ld_buf_append(ld_buf *b, const void *p, size_t n)
{
    if (ld_buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ld_buf_puts(ld_buf *b, const char *s)
{
    return ld_buf_append(b, s, strlen(s));
}

int ld_copy_value(ld_buf *b, const char *s, size_t n)
{
    if (!s)
        return ld_buf_append(b, "\\N", 2);
    /* Worst case every byte doubles. */
    if (ld_buf_reserve(b, 2 * n) < 0)
        return -1;
    char *out = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case '\\':
            *out++ = '\\';
            *out++ = '\\';
            break;
        case '\t':
            *out++ = '\\';
            *out++ = 't';
            break;
        case '\n':
            *out++ = '\\';
            *out++ = 'n';
            break;
        case '\r':
            *out++ = '\\';
            *out++ = 'r';
            break;
        default:
            *out++ = c;
        }
    }
    b->len = (size_t)(out - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int ld_copy_sep(ld_buf *b)
{
    return ld_buf_append(b, "\t", 1);
}

int ld_copy_eol(ld_buf *b)
{
    return ld_buf_append(b, "\n", 1);
}
