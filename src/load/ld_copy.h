/* ld_copy: PostgreSQL COPY text-format encoding into a us_buf.
 *
 * COPY text format (PostgreSQL docs, "COPY ... File Formats"): one line per
 * row, columns separated by a tab, rows ended by "\n", SQL NULL written as
 * \N. Inside a value a backslash, tab, newline and carriage return are
 * written as \\, \t, \n, \r; every other byte goes through unchanged, so the
 * caller must hand in valid UTF-8 without NUL bytes (ld_user and ld_text
 * guarantee that). */
#ifndef LD_COPY_H
#define LD_COPY_H

#include "us_buf.h"

#include <stddef.h>

/* Each returns 0, or -1 after an allocation failure (then b->oom is set
 * and later appends do nothing). */
/* Appends one COPY value (s == NULL: \N), escaped. */
int ld_copy_value(us_buf *b, const char *s, size_t n);
/* Appends the column separator or the row end. */
int ld_copy_sep(us_buf *b);
int ld_copy_eol(us_buf *b);

#endif
