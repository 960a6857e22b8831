#include "ld_json.h"
#include "us_err.h"

#include "ld_text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's JSON_PARSER_MAX_DEPTH, so both accept the same documents. */
#define MAX_DEPTH 2048
#define ROOT LD_F_COUNT /* pseudo node: the record object itself */

const char *const ld_field_path[LD_F_COUNT] = {
    "gender",
    "name",
    "name.title",
    "name.first",
    "name.last",
    "location",
    "location.street",
    "location.street.number",
    "location.street.name",
    "location.city",
    "location.state",
    "location.country",
    "location.postcode",
    "location.coordinates",
    "location.coordinates.latitude",
    "location.coordinates.longitude",
    "location.timezone",
    "location.timezone.offset",
    "location.timezone.description",
    "email",
    "login",
    "login.uuid",
    "login.username",
    "dob",
    "dob.date",
    "registered",
    "registered.date",
    "phone",
    "cell",
    "id",
    "id.name",
    "id.value",
    "picture",
    "picture.large",
    "picture.medium",
    "picture.thumbnail",
    "nat",
};

/* Members read, by parent node. Credentials are not listed: skipped unread. */
static const struct member {
    int parent;
    const char *key;
    int id;
} members[] = {
    {ROOT, "gender", LD_F_GENDER},
    {ROOT, "name", LD_F_NAME},
    {ROOT, "location", LD_F_LOCATION},
    {ROOT, "email", LD_F_EMAIL},
    {ROOT, "login", LD_F_LOGIN},
    {ROOT, "dob", LD_F_DOB},
    {ROOT, "registered", LD_F_REGISTERED},
    {ROOT, "phone", LD_F_PHONE},
    {ROOT, "cell", LD_F_CELL},
    {ROOT, "id", LD_F_ID},
    {ROOT, "picture", LD_F_PICTURE},
    {ROOT, "nat", LD_F_NAT},
    {LD_F_NAME, "title", LD_F_NAME_TITLE},
    {LD_F_NAME, "first", LD_F_NAME_FIRST},
    {LD_F_NAME, "last", LD_F_NAME_LAST},
    {LD_F_LOCATION, "street", LD_F_STREET},
    {LD_F_LOCATION, "city", LD_F_CITY},
    {LD_F_LOCATION, "state", LD_F_STATE},
    {LD_F_LOCATION, "country", LD_F_COUNTRY},
    {LD_F_LOCATION, "postcode", LD_F_POSTCODE},
    {LD_F_LOCATION, "coordinates", LD_F_COORDINATES},
    {LD_F_LOCATION, "timezone", LD_F_TIMEZONE},
    {LD_F_STREET, "number", LD_F_STREET_NUMBER},
    {LD_F_STREET, "name", LD_F_STREET_NAME},
    {LD_F_COORDINATES, "latitude", LD_F_LATITUDE},
    {LD_F_COORDINATES, "longitude", LD_F_LONGITUDE},
    {LD_F_TIMEZONE, "offset", LD_F_TZ_OFFSET},
    {LD_F_TIMEZONE, "description", LD_F_TZ_DESCRIPTION},
    {LD_F_LOGIN, "uuid", LD_F_UUID},
    {LD_F_LOGIN, "username", LD_F_USERNAME},
    {LD_F_DOB, "date", LD_F_DOB_DATE},
    {LD_F_REGISTERED, "date", LD_F_REGISTERED_DATE},
    {LD_F_ID, "name", LD_F_ID_NAME},
    {LD_F_ID, "value", LD_F_ID_VALUE},
    {LD_F_PICTURE, "large", LD_F_PICTURE_LARGE},
    {LD_F_PICTURE, "medium", LD_F_PICTURE_MEDIUM},
    {LD_F_PICTURE, "thumbnail", LD_F_PICTURE_THUMBNAIL},
};

/* Decoded strings of one record; blocks never move, reset per record. */
typedef struct block {
    struct block *next;
    size_t used, cap;
    char data[];
} block;

typedef struct scanner {
    const char *p, *end, *base;
    int depth;
    char *err;
    size_t errlen;
    int failed; /* -1 grammar, -2 callback */
    block *blocks;
    ld_record rec;
} scanner;

static int fail(scanner *s, const char *what)
{
    if (!s->failed) {
        snprintf(s->err, s->errlen, "%s at byte %zu", what, (size_t)(s->p - s->base));
        s->failed = -1;
    }
    return -1;
}

static void skip_ws(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static char *arena_alloc(scanner *s, size_t n)
{
    block *b = s->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        s->blocks = b = nb;
    }
    char *out = b->data + b->used;
    b->used += n;
    return out;
}

static void arena_reset(scanner *s)
{
    /* keep the newest block, free older ones */
    block *b = s->blocks;
    if (!b)
        return;
    block *old = b->next;
    b->next = NULL;
    b->used = 0;
    while (old) {
        block *n = old->next;
        free(old);
        old = n;
    }
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Checks the escape at s->p (just after the backslash) and moves past it. */
static int scan_escape(scanner *s)
{
    if (s->p >= s->end)
        return fail(s, "unterminated string");
    char c = *s->p;
    if (strchr("\"\\/bfnrt", c) && c) {
        s->p++;
        return 0;
    }
    if (c != 'u')
        return fail(s, "invalid escape");
    unsigned cp, lo;
    if (s->end - s->p < 5 || hex4(s->p + 1, &cp) < 0)
        return fail(s, "invalid \\u escape");
    s->p += 5;
    if (cp == 0)
        return fail(s, "\\u0000 is not allowed");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(s, "invalid Unicode (lone low surrogate)");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || hex4(s->p + 2, &lo) < 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
            return fail(s, "invalid Unicode (lone high surrogate)");
        s->p += 6;
    }
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes an already validated string body (i, n) into out; returns its length. */
static size_t decode(const char *in, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '\\') {
            out[k++] = in[i];
            continue;
        }
        char c = in[++i];
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = strchr(from, c);
        if (c != 'u' && e) {
            out[k++] = to[e - from];
            continue;
        }
        unsigned cp, lo;
        hex4(in + i + 1, &cp);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            hex4(in + i + 3, &lo);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        }
        k += put_utf8(out + k, cp);
    }
    return k;
}

/* Non-zero when one of the 8 bytes of v is a quote, a backslash, a control
 * character (< 0x20) or not ASCII (>= 0x80): the bytes scan_string must look
 * at one by one. Bit tricks on a 64-bit word ("determine if a word has a
 * byte less than n", n <= 0x80): (v - n * ones) & ~v & high is non-zero
 * whenever some byte is < n. A borrow can also flag a plain byte next to a
 * special one; that only stops the fast loop, the byte loop then decides. */
static uint64_t special_bytes(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t quote = v ^ (ones * '"'), bslash = v ^ (ones * '\\');
    uint64_t is_quote = (quote - ones) & ~quote, is_bslash = (bslash - ones) & ~bslash;
    uint64_t is_ctrl = (v - ones * 0x20) & ~v;
    return (is_quote | is_bslash | is_ctrl | v) & high;
}

/* String at s->p == '"'. With out, stores its decoded text. */
static int scan_string(scanner *s, ld_jval *out)
{
    const char *start = ++s->p;
    int escaped = 0;
    for (;;) {
        /* Plain runs 8 bytes at a time (names, streets, URLs: most of a
         * page), then byte by byte from the first byte that needs a look. */
        while (s->end - s->p >= 8) {
            uint64_t v;
            memcpy(&v, s->p, 8);
            if (special_bytes(v))
                break;
            s->p += 8;
        }
        while (s->p < s->end) {
            unsigned char c = (unsigned char)*s->p;
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
                break;
            s->p++;
        }
        if (s->p >= s->end)
            return fail(s, "unterminated string");
        unsigned char c = (unsigned char)*s->p;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(s, "control character in string");
        if (c == '\\') {
            escaped = 1;
            s->p++;
            if (scan_escape(s) < 0)
                return -1;
            continue;
        }
        size_t k = ld_utf8_seq((const unsigned char *)s->p, (size_t)(s->end - s->p));
        if (!k)
            return fail(s, "invalid UTF-8");
        s->p += k;
    }
    size_t n = (size_t)(s->p - start);
    s->p++;
    if (!out)
        return 0;
    out->type = LD_J_STRING;
    if (!escaped) {
        out->s = start;
        out->n = n;
        return 0;
    }
    char *d = arena_alloc(s, n + 1);
    if (!d)
        return fail(s, "out of memory");
    out->n = decode(start, n, d);
    d[out->n] = '\0';
    out->s = d;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Like jansson: an integer must fit in int64 and a real must not overflow a
 * double (underflow to zero is fine). Returns 0 (and the integer's value) or -1. */
static int number_in_range(const char *start, size_t n, int is_int, long long *iv)
{
    char buf[64];
    char *tmp = n < sizeof buf ? buf : malloc(n + 1);
    if (!tmp)
        return -1;
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    errno = 0;
    int range;
    if (is_int) {
        *iv = strtoll(tmp, NULL, 10);
        range = errno == ERANGE;
    } else {
        double d = strtod(tmp, NULL);
        range = errno == ERANGE && (d > 1.0 || d < -1.0);
    }
    if (tmp != buf)
        free(tmp);
    return range ? -1 : 0;
}

/* Number at s->p: the RFC 8259 grammar; like jansson, an integer beyond
 * int64 or a real that overflows a double is an error. */
static int scan_number(scanner *s, ld_jval *out)
{
    const char *start = s->p;
    int is_int = 1;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (s->p < s->end && *s->p >= '1' && *s->p <= '9')
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    else
        return fail(s, "invalid number");
    if (s->p < s->end && *s->p == '.') {
        is_int = 0;
        s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return fail(s, "invalid number");
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        is_int = 0;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return fail(s, "invalid number");
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    long long iv = 0;
    if (number_in_range(start, (size_t)(s->p - start), is_int, &iv) < 0)
        return fail(s, is_int ? "integer out of range" : "real number overflow");
    if (out) {
        out->type = is_int ? LD_J_INT : LD_J_NUMBER;
        out->s = start;
        out->n = (size_t)(s->p - start);
        out->i = iv;
    }
    return 0;
}

static int scan_literal(scanner *s, const char *word, ld_jtype t, ld_jval *out)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "invalid token");
    s->p += n;
    if (out)
        out->type = t;
    return 0;
}

static int scan_value(scanner *s, int node, ld_jval *out);

/* Finds the member id of key (decoded) under parent, or -1. */
static int member_id(int parent, const char *key, size_t n)
{
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        if (members[i].parent == parent && strlen(members[i].key) == n &&
            memcmp(members[i].key, key, n) == 0)
            return members[i].id;
    return -1;
}

/* Object at s->p == '{'; node >= 0: a node whose members are collected. */
static int scan_object(scanner *s, int node)
{
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        ld_jval key = {0};
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"')
            return fail(s, "string or '}' expected");
        if (scan_string(s, node >= 0 ? &key : NULL) < 0)
            return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return fail(s, "':' expected");
        s->p++;
        int id = node >= 0 ? member_id(node, key.s, key.n) : -1;
        ld_jval *slot = NULL;
        if (id >= 0) {
            slot = &s->rec.f[id];
            if (slot->type != LD_J_MISSING && !s->rec.duplicate)
                s->rec.duplicate = id + 1;
        }
        if (scan_value(s, id, slot) < 0)
            return -1;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        return fail(s, "',' or '}' expected");
    }
}

static int scan_array(scanner *s)
{
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (scan_value(s, -1, NULL) < 0)
            return -1;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return 0;
        }
        return fail(s, "',' or ']' expected");
    }
}

static int scan_nested(scanner *s, int node, ld_jval *out, int is_object)
{
    if (++s->depth > MAX_DEPTH)
        return fail(s, "maximum nesting depth exceeded");
    if (out)
        out->type = is_object ? LD_J_OBJECT : LD_J_ARRAY;
    int rc = is_object ? scan_object(s, node) : scan_array(s);
    s->depth--;
    return rc;
}

static int scan_value(scanner *s, int node, ld_jval *out)
{
    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "unexpected end of input");
    switch (*s->p) {
    case '{':
        return scan_nested(s, node, out, 1);
    case '[':
        return scan_nested(s, -1, out, 0);
    case '"':
        return scan_string(s, out);
    case 't':
        return scan_literal(s, "true", LD_J_TRUE, out);
    case 'f':
        return scan_literal(s, "false", LD_J_FALSE, out);
    case 'n':
        return scan_literal(s, "null", LD_J_NULL, out);
    default:
        if (*s->p == '-' || is_digit(*s->p))
            return scan_number(s, out);
        return fail(s, "invalid token");
    }
}

/* Each element of "results": scanned into s->rec and handed to cb. */
static int scan_results(scanner *s, ld_json_page *page, ld_json_on_record cb, void *arg)
{
    if (s->p >= s->end || *s->p != '[')
        return fail(s, "page: results is not an array");
    if (++s->depth > MAX_DEPTH)
        return fail(s, "maximum nesting depth exceeded");
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        s->depth--;
        return 0;
    }
    for (long index = 0;; index++) {
        ld_jval self = {0};
        skip_ws(s);
        memset(&s->rec, 0, sizeof s->rec);
        s->rec.raw = s->p;
        if (scan_value(s, ROOT, &self) < 0)
            return -1;
        s->rec.type = self.type;
        s->rec.raw_len = (size_t)(s->p - s->rec.raw);
        page->n_results++;
        if (cb && cb(&s->rec, index, arg) != 0) {
            s->failed = -2;
            return -1;
        }
        arena_reset(s);
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            s->depth--;
            return 0;
        }
        return fail(s, "',' or ']' expected");
    }
}

/* "info": the members seed and page are kept, the rest skipped. */
static int scan_info(scanner *s, ld_json_page *page)
{
    page->has_info = true;
    if (s->p >= s->end || *s->p != '{')
        return scan_value(s, -1, NULL) < 0 ? -1 : 0; /* checked by the caller */
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        ld_jval key = {0}, v = {0};
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"')
            return fail(s, "string or '}' expected");
        if (scan_string(s, &key) < 0)
            return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return fail(s, "':' expected");
        s->p++;
        bool is_seed = key.n == 4 && memcmp(key.s, "seed", 4) == 0;
        bool is_page = key.n == 4 && memcmp(key.s, "page", 4) == 0;
        if (scan_value(s, -1, &v) < 0)
            return -1;
        if (is_seed) {
            page->info_seed = v;
            if (v.type == LD_J_STRING) {
                size_t n = v.n < sizeof page->seed_buf - 1 ? v.n : sizeof page->seed_buf - 1;
                memcpy(page->seed_buf, v.s, n);
                page->seed_buf[n] = '\0';
                page->info_seed.s = page->seed_buf;
            }
        } else if (is_page) {
            page->info_page = v;
        }
        arena_reset(s);
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        return fail(s, "',' or '}' expected");
    }
}

static int scan_page_member(scanner *s, ld_json_page *page, ld_json_on_record cb, void *arg)
{
    ld_jval key = {0};
    if (s->p >= s->end || *s->p != '"')
        return fail(s, "string or '}' expected");
    if (scan_string(s, &key) < 0)
        return -1;
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return fail(s, "':' expected");
    s->p++;
    skip_ws(s);
    if (key.n == 7 && memcmp(key.s, "results", 7) == 0) {
        if (page->has_results)
            return fail(s, "page: two results members");
        page->has_results = true;
        return scan_results(s, page, cb, arg);
    }
    if (key.n == 4 && memcmp(key.s, "info", 4) == 0 && !page->has_info)
        return scan_info(s, page);
    return scan_value(s, -1, NULL);
}

static void scanner_free(scanner *s)
{
    while (s->blocks) {
        block *n = s->blocks->next;
        free(s->blocks);
        s->blocks = n;
    }
}

int ld_json_scan(const char *body, size_t len, ld_json_page *page, ld_json_on_record cb, void *arg,
                 char *err, size_t errlen)
{
    scanner s = {.p = body, .end = body + len, .base = body, .err = err, .errlen = errlen};
    memset(page, 0, sizeof *page);
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') {
        if (ld_json_validate(body, len) == 0)
            snprintf(err, errlen, "page: not an object");
        else
            fail(&s, "page: not JSON");
        return -1;
    }
    s.p++;
    s.depth = 1;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}')
        s.p++;
    else
        for (;;) {
            skip_ws(&s);
            if (scan_page_member(&s, page, cb, arg) < 0)
                break;
            skip_ws(&s);
            if (s.p < s.end && *s.p == ',') {
                s.p++;
                continue;
            }
            if (s.p < s.end && *s.p == '}')
                s.p++;
            else
                fail(&s, "',' or '}' expected");
            break;
        }
    if (!s.failed) {
        skip_ws(&s);
        if (s.p != s.end)
            fail(&s, "end of input expected");
    }
    scanner_free(&s);
    if (s.failed)
        return s.failed == -2 ? -2 : -1;
    if (!page->has_results)
        return us_errf(err, errlen, "page: no results array");
    return 0;
}

int ld_json_validate(const char *str, size_t n)
{
    char err[128];
    scanner s = {.p = str, .end = str + n, .base = str, .err = err, .errlen = sizeof err};
    int rc = scan_value(&s, -1, NULL);
    if (rc == 0) {
        skip_ws(&s);
        rc = s.p == s.end ? 0 : -1;
    }
    scanner_free(&s);
    return rc;
}
