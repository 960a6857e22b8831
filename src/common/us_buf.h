/* us_buf: a growable byte buffer that responses and reports are written into.
 *
 * Appends never fail loudly: on allocation failure the buffer sets `oom` and
 * ignores later appends, so writers stay branch-free and the caller checks
 * once at the end. The data is always NUL-terminated (when not oom). */
#ifndef US_BUF_H
#define US_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct us_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
} us_buf;

/* Makes room for `extra` more bytes (plus the NUL); false (oom set) on failure. */
bool us_buf_grow(us_buf *b, size_t extra);

/* The appends a response writer calls per field are inline: a check of the
 * room left, a copy, the NUL. */
static inline bool us_buf_room(us_buf *b, size_t n)
{
    return (!b->oom && b->cap - b->len > n) || us_buf_grow(b, n);
}

/* After writing n bytes at data + len (room made by us_buf_room): takes
 * them in and puts the NUL back. */
static inline void us_buf_commit(us_buf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void us_buf_put(us_buf *b, const void *s, size_t n)
{
    if (us_buf_room(b, n)) {
        if (n)
            memcpy(b->data + b->len, s, n);
        us_buf_commit(b, n);
    }
}

static inline void us_buf_puts(us_buf *b, const char *s)
{
    us_buf_put(b, s, strlen(s));
}

static inline void us_buf_putc(us_buf *b, char c)
{
    if (us_buf_room(b, 1)) {
        b->data[b->len] = c;
        us_buf_commit(b, 1);
    }
}

/* Appends n copies of c. */
void us_buf_fill(us_buf *b, char c, size_t n);
/* Decimal, no padding. */
void us_buf_put_i64(us_buf *b, int64_t v);
/* Writes v in decimal into out (at least 21 bytes, no NUL); returns the length. */
size_t us_fmt_i64(char *out, int64_t v);
void us_buf_printf(us_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when empty or oom); valid until the next append. */
const char *us_buf_str(const us_buf *b);
/* Empties the buffer for reuse (keeps the memory, forgets an oom). */
void us_buf_reset(us_buf *b);
void us_buf_free(us_buf *b);
/* Hands the data over to the caller (who frees it) and empties the buffer;
 * NULL when oom or empty. */
char *us_buf_steal(us_buf *b, size_t *len);

#endif
