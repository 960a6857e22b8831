/* us_buf: a growable byte buffer that responses and reports are written into.
 *
 * Appends never fail loudly: on allocation failure the buffer sets `oom` and
 * ignores later appends, so writers stay branch-free and the caller checks
 * once at the end. The data is always NUL-terminated (when not oom). */
#ifndef US_BUF_H
#define US_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct us_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
} us_buf;

/* Makes room for `extra` more bytes (plus the NUL); false (oom set) on failure. */
bool us_buf_grow(us_buf *b, size_t extra);
void us_buf_put(us_buf *b, const void *s, size_t n);
void us_buf_puts(us_buf *b, const char *s);
void us_buf_printf(us_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when empty or oom); valid until the next append. */
const char *us_buf_str(const us_buf *b);
void us_buf_reset(us_buf *b);
void us_buf_free(us_buf *b);
/* Hands the data over to the caller (who frees it) and empties the buffer;
 * NULL when oom or empty. */
char *us_buf_steal(us_buf *b, size_t *len);

#endif
