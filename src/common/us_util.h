/* us_util: small helpers every program needs: strict number parsing,
 * string trimming. */
#ifndef US_UTIL_H
#define US_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "us_time.h" /* the clocks lived here first */

#define US_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Whole-string decimal integer in [min, max]; no trailing junk, no empty
 * string. Returns 0 or -1. */
int us_parse_long(const char *s, long min, long max, long *out);
/* Whole-string finite number in [min, max]. */
int us_parse_double(const char *s, double min, double max, double *out);
/* true/false, 1/0, yes/no, on/off (any case). */
int us_parse_bool(const char *s, bool *out);

/* Trims ASCII whitespace in place; returns the first non-space character. */
char *us_str_trim(char *s);

/* A database error as it may be logged: no row values (PII). Copies msg
 * to out with the content of every double-quoted span replaced by ***
 * (PostgreSQL quotes the offending value there, e.g. invalid input syntax
 * for type uuid: "..."), trailing newlines dropped. */
void us_redact_quoted(const char *msg, char *out, size_t outlen);

/* "WHAT: SQLSTATE S: primary (redacted) [constraint C, column X, table T]"
 * from the error's fields (any may be NULL). DETAIL and CONTEXT are never
 * taken: they carry whole rows and COPY lines. */
void us_db_error_format(char *out, size_t outlen, const char *what, const char *sqlstate,
                        const char *primary, const char *constraint, const char *column,
                        const char *schema, const char *table);

#endif
