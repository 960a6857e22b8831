#include "ld_copy.h"

#include <stdlib.h>
#include <string.h>

static int put(us_buf *b, const char *s, size_t n)
{
    us_buf_put(b, s, n);
    return b->oom ? -1 : 0;
}

int ld_copy_value(us_buf *b, const char *s, size_t n)
{
    if (!s)
        return put(b, "\\N", 2);
    /* Worst case every byte doubles. */
    if (!us_buf_room(b, 2 * n))
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
    us_buf_commit(b, (size_t)(out - (b->data + b->len)));
    return 0;
}

int ld_copy_sep(us_buf *b)
{
    return put(b, "\t", 1);
}

int ld_copy_eol(us_buf *b)
{
    return put(b, "\n", 1);
}
