/* src_buf: a growable byte buffer that response bodies are written into.
 *
 * Appends never fail loudly: on allocation failure the buffer sets `oom` and
 * ignores later appends, so writers stay branch-free and the caller checks
 * once at the end. */
#ifndef SRC_BUF_H
#define SRC_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct src_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
} src_buf;

/* Makes room for `extra` more bytes; false (and oom set) when that fails. */
bool src_buf_grow(src_buf *b, size_t extra);
void src_buf_free(src_buf *b);
/* Hands the data over to the caller (who frees it) and empties the buffer. */
char *src_buf_steal(src_buf *b, size_t *len);

static inline bool src_buf_room(src_buf *b, size_t n)
{
    return b->cap - b->len >= n || src_buf_grow(b, n);
}

static inline void src_buf_put(src_buf *b, const void *s, size_t n)
{
    if (n && src_buf_room(b, n)) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
}

static inline void src_buf_puts(src_buf *b, const char *s)
{
    src_buf_put(b, s, strlen(s));
}

static inline void src_buf_putc(src_buf *b, char c)
{
    if (src_buf_room(b, 1))
        b->data[b->len++] = c;
}

/* Appends `n` copies of `c`. */
void src_buf_fill(src_buf *b, char c, size_t n);
/* Decimal, no padding. */
void src_buf_put_i64(src_buf *b, int64_t v);

/* Writes v in decimal into out (at least 21 bytes); returns the length. */
size_t src_fmt_i64(char *out, int64_t v);

#endif
