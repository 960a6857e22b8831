#include "src_qs.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[SRC_P_COUNT] = {
    "results", "page", "seed", "gender",   "nat",    "nationality", "inc",      "exc",
    "format",  "fmt",  "dl",   "download", "noinfo", "callback",    "password", "lego"};

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One %XX byte at s[i] (with '+' already meaning a space), or -1. */
static int pct_byte(const char *s, size_t n, size_t i)
{
    if (i + 2 >= n || s[i] != '%')
        return -1;
    int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
}

/* Decodes one %-encoded UTF-8 character at s[*i]; false on a URIError. */
static bool decode_pct_char(const char *s, size_t n, size_t *i, char *out, size_t *o)
{
    int b0 = pct_byte(s, n, *i);
    if (b0 < 0)
        return false;
    int len = b0 < 0x80             ? 1
              : (b0 & 0xE0) == 0xC0 ? 2
              : (b0 & 0xF0) == 0xE0 ? 3
              : (b0 & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (len == 0)
        return false;
    unsigned cp = len == 1 ? (unsigned)b0 : (unsigned)b0 & (0x7Fu >> len);
    unsigned char bytes[4] = {(unsigned char)b0};
    for (int k = 1; k < len; k++) {
        int c = pct_byte(s, n, *i + 3 * (size_t)k);
        if (c < 0 || (c & 0xC0) != 0x80)
            return false;
        bytes[k] = (unsigned char)c;
        cp = (cp << 6) | ((unsigned)c & 0x3F);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    memcpy(out + *o, bytes, (size_t)len);
    *o += (size_t)len;
    *i += 3 * (size_t)len;
    return true;
}

/* Raw byte as Node sees it: ASCII as is, 0x80-0xFF as Latin-1 -> UTF-8;
 * '+' becomes a space. */
static void put_raw(unsigned char c, char *out, size_t *o)
{
    if (c == '+') {
        out[(*o)++] = ' ';
    } else if (c < 0x80) {
        out[(*o)++] = (char)c;
    } else {
        out[(*o)++] = (char)(0xC0 | (c >> 6));
        out[(*o)++] = (char)(0x80 | (c & 0x3F));
    }
}

size_t src_qs_decode(const char *s, size_t n, char *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        if (s[i] == '%') {
            if (!decode_pct_char(s, n, &i, out, &o))
                goto raw;
        } else {
            put_raw((unsigned char)s[i], out, &o);
            i++;
        }
    }
    return o;
raw:
    o = 0;
    for (i = 0; i < n; i++)
        put_raw((unsigned char)s[i], out, &o);
    return o;
}

/* Splits a decoded key into its parameter: plain "name", "name[]",
 * "name[N]", or "[name]" (qs drops an empty parent). -1: not one of ours
 * or object syntax. */
static int key_param(const char *k, size_t n)
{
    const char *open = memchr(k, '[', n);
    size_t base_n = open ? (size_t)(open - k) : n;
    if (open) {
        const char *close = memchr(open, ']', n - base_n);
        if (!close || memchr(open + 1, '[', (size_t)(close - open - 1)))
            base_n = n; /* no [segment]: the whole key is a name */
        else if (close != k + n - 1)
            return -1;        /* a[b][c]: object */
        else if (base_n == 0) /* "[name]" */
            return key_param(k + 1, n - 2);
        else {
            for (const char *p = open + 1; p < close; p++)
                if (*p < '0' || *p > '9' || close - open - 1 > 2)
                    return -1; /* a[x]: object (index > 20 is one too) */
            if (close - open - 1 == 2 && (open[1] - '0') * 10 + (open[2] - '0') > 20)
                return -1;
        }
    }
    for (int i = 0; i < SRC_P_COUNT; i++)
        if (strlen(names[i]) == base_n && memcmp(names[i], k, base_n) == 0)
            return i;
    return -1;
}

static void parse_part(src_qs *q, const char *s, size_t n, char **arena)
{
    const char *be = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == ']' && s[i + 1] == '=') {
            be = s + i;
            break;
        }
    const char *eq = be ? be + 1 : memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    char *key = *arena;
    size_t klen = src_qs_decode(s, kn, key);
    int p = key_param(key, klen);
    if (p < 0)
        return;
    char *val = key + klen;
    size_t vlen = eq ? src_qs_decode(eq + 1, n - kn - 1, val) : 0;
    *arena = val + vlen;
    q->p[p].s = val;
    q->p[p].n = vlen;
    q->p[p].count++;
}

int src_qs_parse(src_qs *q, const char *query, size_t n)
{
    memset(q, 0, sizeof *q);
    /* Decoding at most doubles a byte (Latin-1 -> UTF-8). */
    q->arena = malloc(2 * n + 1);
    if (!q->arena)
        return -1;
    char *arena = q->arena;
    size_t start = 0;
    int parts = 0;
    for (size_t i = 0; i <= n && parts < SRC_QS_MAX_PARTS; i++) {
        if (i < n && query[i] != '&')
            continue;
        parts++;
        if (i > start)
            parse_part(q, query + start, i - start, &arena);
        start = i + 1;
    }
    return 0;
}

void src_qs_free(src_qs *q)
{
    free(q->arena);
    memset(q, 0, sizeof *q);
}
