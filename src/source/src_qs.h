/* src_qs: parses a raw query string the way Express's default parser (qs 6)
 * does, for the parameters randomuser.me reads:
 *   - split on '&' (the first 1000 parts only), key=value or a bare key
 *     (value ""); '+' is a space; %XX must decode to valid UTF-8, otherwise
 *     the part is kept undecoded (decodeURIComponent's URIError); raw
 *     non-ASCII bytes are Latin-1 characters, as Node reads a URL.
 *   - a repeated key, "key[]" or "key[N]" makes an array: upstream keeps the
 *     last value, except that an array of two or more `results` is NaN.
 *   - object syntax ("inc[a]=x", "a[b][c]") is ignored here; upstream fails
 *     on most of it.
 * Byte layout of the input: any bytes, length-delimited, no NUL needed. */
#ifndef SRC_QS_H
#define SRC_QS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SRC_P_RESULTS,
    SRC_P_PAGE,
    SRC_P_SEED,
    SRC_P_GENDER,
    SRC_P_NAT,
    SRC_P_NATIONALITY,
    SRC_P_INC,
    SRC_P_EXC,
    SRC_P_FORMAT,
    SRC_P_FMT,
    SRC_P_DL,
    SRC_P_DOWNLOAD,
    SRC_P_NOINFO,
    SRC_P_CALLBACK,
    SRC_P_PASSWORD,
    SRC_P_LEGO,
    SRC_P_COUNT
} src_param;

typedef struct src_qvalue {
    const char *s; /* last value, decoded UTF-8 (may hold NUL bytes) */
    size_t n;
    uint32_t count; /* values given; 0 = absent */
} src_qvalue;

typedef struct src_qs {
    src_qvalue p[SRC_P_COUNT];
    char *arena; /* owns the decoded strings */
} src_qs;

#define SRC_QS_MAX_PARTS 1000

/* Never fails on input; -1 only when memory runs out. */
int src_qs_parse(src_qs *q, const char *query, size_t n);
void src_qs_free(src_qs *q);

/* decodeURIComponent after '+' -> ' ', falling back to the raw text; writes
 * at most 2*n bytes to out and returns the length (exposed for tests). */
size_t src_qs_decode(const char *s, size_t n, char *out);

#endif
