/* ld_copy: a growable byte buffer and PostgreSQL COPY text-format encoding.
 *
 * COPY text format (PostgreSQL docs, "COPY ... File Formats"): one line per
 * row, columns separated by a tab, rows ended by "\n", SQL NULL written as
 * \N. Inside a value a backslash, tab, newline and carriage return are
 * written as \\, \t, \n, \r; every other byte goes through unchanged, so the
 * caller must hand in valid UTF-8 without NUL bytes (ld_user and ld_text
 * guarantee that). */
#ifndef LD_COPY_H
#define LD_COPY_H

#include <stddef.h>

typedef struct ld_buf {
    char *data;
    size_t len, cap;
    int failed; /* an allocation failed: the content is incomplete */
} ld_buf;

void ld_buf_init(ld_buf *b);
void ld_buf_free(ld_buf *b);
void ld_buf_reset(ld_buf *b);
/* Each returns 0, or -1 after an allocation failure (then b->failed is set
 * and later appends do nothing). */
int ld_buf_reserve(ld_buf *b, size_t extra);
int ld_buf_append(ld_buf *b, const void *p, size_t n);
int ld_buf_puts(ld_buf *b, const char *s);

/* Appends one COPY value (s == NULL: \N), escaped. */
int ld_copy_value(ld_buf *b, const char *s, size_t n);
/* Appends the column separator or the row end. */
int ld_copy_sep(ld_buf *b);
int ld_copy_eol(ld_buf *b);

#endif
