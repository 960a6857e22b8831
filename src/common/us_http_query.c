/* us_http_query: query-string parsing for us_http (pure functions, so the
 * fuzz target links them without libmicrohttpd). */
#include "us_http.h"
#include "us_err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int us_url_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '+')
            c = ' ';
        else if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval((unsigned char)s[i + 1]);
            int lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= outlen)
            return -1;
        out[o++] = (char)c;
    }
    if (outlen == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

/* Calls fn for each key=value pair (raw, not decoded). */
typedef int (*pair_fn)(void *ud, const char *k, size_t kl, const char *v, size_t vl);

static int each_pair(const char *q, pair_fn fn, void *ud)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t kl = eq ? (size_t)(eq - q) : len;
            const char *v = eq ? eq + 1 : q + len;
            int rc = fn(ud, q, kl, v, eq ? len - kl - 1 : 0);
            if (rc)
                return rc;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

typedef struct {
    const char *const *allowed;
    const char *key;
    char *out;
    size_t outlen;
    char *err;
    size_t errlen;
    int found;
} query_walk;

static int check_pair(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    query_walk *w = ud;
    char key[64], val[2048];
    if (us_url_decode(k, kl, key, sizeof key) < 0 || !key[0])
        return us_errf(w->err, w->errlen, "malformed query parameter name");
    if (us_url_decode(v, vl, val, sizeof val) < 0)
        return us_errf(w->err, w->errlen, "query parameter \"%s\": malformed value", key);
    for (const char *const *a = w->allowed; a && *a; a++)
        if (!strcmp(*a, key))
            return 0;
    return us_errf(w->err, w->errlen, "unknown query parameter \"%s\"", key);
}

int us_http_query_check(const char *query, const char *const *allowed, char *err, size_t errlen)
{
    query_walk w = {.allowed = allowed, .err = err, .errlen = errlen};
    return each_pair(query, check_pair, &w) ? -1 : 0;
}

static int get_pair(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
    query_walk *w = ud;
    char key[64];
    if (us_url_decode(k, kl, key, sizeof key) < 0 || strcmp(key, w->key) != 0)
        return 0;
    if (us_url_decode(v, vl, w->out, w->outlen) < 0)
        return us_errf(w->err, w->errlen, "query parameter \"%s\": malformed or too long", w->key);
    return 1;
}

int us_http_query_get(const char *query, const char *key, char *out, size_t outlen, char *err,
                      size_t errlen)
{
    query_walk w = {.key = key, .out = out, .outlen = outlen, .err = err, .errlen = errlen};
    return each_pair(query, get_pair, &w);
}

int us_http_query_long(const char *query, const char *key, long min, long max, long def, long *out,
                       char *err, size_t errlen)
{
    char v[32], *end;
    int rc = us_http_query_get(query, key, v, sizeof v, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        *out = def;
        return 0;
    }
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!v[0] || *end || errno || isspace((unsigned char)v[0]) || n < min || n > max)
        return us_errf(err, errlen, "query parameter \"%s\" must be an integer from %ld to %ld",
                       key, min, max);
    *out = n;
    return 0;
}

void us_json_escape(us_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            us_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            us_buf_printf(b, "\\u%04x", c);
        else
            us_buf_put(b, s, 1);
    }
}
