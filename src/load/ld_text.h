/* ld_text: makes untrusted raw text safe to store in staging.rejects.raw_text.
 *
 * A rejected page may be truncated, not JSON at all, or not even UTF-8, so
 * this works on bytes with an explicit (ptr, len) and never relies on a NUL
 * terminator. Two steps, in this order:
 *  1. credentials removed: wherever a JSON-like string token whose text is
 *     password, salt, md5, sha1 or sha256 (after decoding simple escapes) is
 *     followed by ':', the value after it (a string token, possibly cut off
 *     by the end of the text, or a bare scalar) becomes "[removed]";
 *  2. made valid for a PostgreSQL text column: NUL bytes and bytes that are
 *     not part of valid UTF-8 are written as the four characters \xNN, and
 *     the result is cut at max bytes (on a character boundary) with a note
 *     saying how much was left out. */
#ifndef LD_TEXT_H
#define LD_TEXT_H

#include "ld_copy.h"

#include <stddef.h>

/* Appends the safe form of (s, n) to out. Returns 0 or -1 (out of memory). */
int ld_text_safe(us_buf *out, const char *s, size_t n, size_t max);

/* Step 1 alone, for tests: appends (s, n) with credential values removed. */
int ld_text_scrub(us_buf *out, const char *s, size_t n);

/* Step 2 alone: length of the longest valid UTF-8 sequence starting at s
 * (1-4), or 0 when the byte at s does not start one. */
size_t ld_utf8_seq(const unsigned char *s, size_t n);

#endif
