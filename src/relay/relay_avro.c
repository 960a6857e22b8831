/* relay_avro: see relay_avro.h. */
#include "relay_avro.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void relay_buf_reset(relay_buf *b)
{
    b->len = 0;
    b->oom = false;
}

void relay_buf_free(relay_buf *b)
{
    free(b->data);
    *b = (relay_buf){0};
}

void relay_buf_append(relay_buf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Avro long: zig-zag, then 7 bits per byte, low group first, high bit = more. */
void relay_avro_put_long(relay_buf *b, int64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        uint8_t byte = z & 0x7f;
        z >>= 7;
        tmp[n++] = byte | (z ? 0x80 : 0);
    } while (z);
    relay_buf_append(b, tmp, n);
}

void relay_avro_put_string(relay_buf *b, const void *s, size_t n)
{
    relay_avro_put_long(b, (int64_t)n);
    relay_buf_append(b, s, n);
}

void relay_avro_put_float(relay_buf *b, float v)
{
    uint32_t u;
    uint8_t t[4];
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++)
        t[i] = (uint8_t)(u >> (8 * i));
    relay_buf_append(b, t, 4);
}

void relay_avro_put_double(relay_buf *b, double v)
{
    uint64_t u;
    uint8_t t[8];
    memcpy(&u, &v, 8);
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(u >> (8 * i));
    relay_buf_append(b, t, 8);
}

void relay_avro_put_bool(relay_buf *b, bool v)
{
    uint8_t t = v ? 1 : 0;
    relay_buf_append(b, &t, 1);
}

relay_avro_kind relay_avro_kind_of(uint32_t oid)
{
    switch (oid) {
    case 2950:
        return RELAY_AVRO_UUID;
    case 21:
    case 23:
        return RELAY_AVRO_INT;
    case 20:
        return RELAY_AVRO_LONG;
    case 700:
        return RELAY_AVRO_FLOAT;
    case 701:
        return RELAY_AVRO_DOUBLE;
    case 16:
        return RELAY_AVRO_BOOLEAN;
    case 1184:
    case 1114:
        return RELAY_AVRO_TIMESTAMP;
    case 1082:
        return RELAY_AVRO_DATE;
    default:
        return RELAY_AVRO_STRING; /* text, varchar, bpchar, numeric, ... */
    }
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, which
 * PostgreSQL also uses (H. Hinnant's days_from_civil; y is astronomical:
 * 1 BC = year 0). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits (n > 0) or, with n == 0, one or more digits. */
static int digits(const char **p, const char *end, int n, int64_t *out)
{
    int64_t v = 0;
    int k = 0;
    while (*p < end && **p >= '0' && **p <= '9' && (n == 0 || k < n) && k < 9) {
        v = v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    if (k == 0 || (n && k != n))
        return -1;
    *out = v;
    return 0;
}

static bool lit(const char **p, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
        return false;
    *p += n;
    return true;
}

/* "YYYY-MM-DD" (year of 4+ digits); leaves *p after the day. */
static int parse_ymd(const char **p, const char *end, int64_t *y, int64_t *mo, int64_t *d)
{
    if (digits(p, end, 0, y) < 0 || !lit(p, end, "-") || digits(p, end, 2, mo) < 0 ||
        !lit(p, end, "-") || digits(p, end, 2, d) < 0)
        return -1;
    return (*mo >= 1 && *mo <= 12 && *d >= 1 && *d <= 31) ? 0 : -1;
}

/* " BC" at the end turns year y into astronomical year 1 - y. */
static int64_t era_year(const char **p, const char *end, int64_t y)
{
    return lit(p, end, " BC") ? 1 - y : y;
}

/* PostgreSQL ISO output: "YYYY-MM-DD HH:MM:SS[.ffffff][(+|-)HH[:MM[:SS]]][ BC]",
 * or "infinity" / "-infinity" (mapped to INT64_MAX / INT64_MIN). */
int relay_parse_timestamp_us(const char *s, size_t len, int64_t *out)
{
    const char *p = s, *end = s + len;
    int64_t y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, os = 0, sign = 0;
    if (len == 8 && memcmp(s, "infinity", 8) == 0)
        return *out = INT64_MAX, 0;
    if (len == 9 && memcmp(s, "-infinity", 9) == 0)
        return *out = INT64_MIN, 0;
    if (parse_ymd(&p, end, &y, &mo, &d) < 0 || !lit(&p, end, " ") || digits(&p, end, 2, &h) < 0 ||
        !lit(&p, end, ":") || digits(&p, end, 2, &mi) < 0 || !lit(&p, end, ":") ||
        digits(&p, end, 2, &sec) < 0)
        return -1;
    if (lit(&p, end, ".")) {
        const char *f = p;
        if (digits(&p, end, 0, &frac) < 0 || p - f > 6)
            return -1;
        for (long k = p - f; k < 6; k++)
            frac *= 10;
    }
    if (p < end && (*p == '+' || *p == '-')) {
        sign = *p++ == '-' ? -1 : 1;
        if (digits(&p, end, 2, &oh) < 0)
            return -1;
        if (lit(&p, end, ":") && digits(&p, end, 2, &om) < 0)
            return -1;
        if (lit(&p, end, ":") && digits(&p, end, 2, &os) < 0)
            return -1;
    }
    y = era_year(&p, end, y);
    if (p != end || h > 24 || mi > 59 || sec > 60)
        return -1;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
    secs -= sign * (oh * 3600 + om * 60 + os);
    /* PostgreSQL's range (to 294276 AD) ends past int64 Unix microseconds:
     * the few values beyond saturate, as infinity does. */
    if (secs >= INT64_MAX / 1000000)
        return *out = INT64_MAX, 0;
    if (secs <= INT64_MIN / 1000000)
        return *out = INT64_MIN, 0;
    *out = secs * 1000000 + frac;
    return 0;
}

/* "YYYY-MM-DD[ BC]" or "infinity" / "-infinity" (INT32_MAX / INT32_MIN). */
int relay_parse_date_days(const char *s, size_t len, int32_t *out)
{
    const char *p = s, *end = s + len;
    int64_t y, mo, d;
    if (len == 8 && memcmp(s, "infinity", 8) == 0)
        return *out = INT32_MAX, 0;
    if (len == 9 && memcmp(s, "-infinity", 9) == 0)
        return *out = INT32_MIN, 0;
    if (parse_ymd(&p, end, &y, &mo, &d) < 0)
        return -1;
    y = era_year(&p, end, y);
    if (p != end)
        return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    if (days > INT32_MAX || days < INT32_MIN)
        return -1;
    *out = (int32_t)days;
    return 0;
}

static int bad_value(char *err, size_t errlen, relay_avro_kind kind, size_t len)
{
    snprintf(err, errlen, "value of %zu bytes does not parse as Avro kind %d", len, (int)kind);
    return -1;
}

/* Numbers and booleans are short; anything longer than this is not one. */
#define NUMBER_TEXT_MAX 64

static int put_number(relay_buf *b, relay_avro_kind kind, const char *t, char *err, size_t errlen)
{
    char *endp;
    errno = 0;
    if (kind == RELAY_AVRO_INT || kind == RELAY_AVRO_LONG) {
        long long v = strtoll(t, &endp, 10);
        if (errno || endp == t || *endp ||
            (kind == RELAY_AVRO_INT && (v < INT32_MIN || v > INT32_MAX)))
            return bad_value(err, errlen, kind, strlen(t));
        relay_avro_put_long(b, v);
        return 0;
    }
    double v = strtod(t, &endp); /* accepts NaN, Infinity, -Infinity as PostgreSQL prints them */
    if (endp == t || *endp || (errno == ERANGE && fabs(v) > 1.0))
        return bad_value(err, errlen, kind, strlen(t));
    if (kind == RELAY_AVRO_FLOAT)
        relay_avro_put_float(b, strtof(t, NULL));
    else
        relay_avro_put_double(b, v);
    return 0;
}

int relay_avro_put_text(relay_buf *b, relay_avro_kind kind, const uint8_t *text, size_t len,
                        char *err, size_t errlen)
{
    char tmp[NUMBER_TEXT_MAX + 1];
    relay_avro_put_long(b, 1); /* union branch 1: the value */
    switch (kind) {
    case RELAY_AVRO_STRING:
    case RELAY_AVRO_UUID:
        relay_avro_put_string(b, text, len);
        return 0;
    case RELAY_AVRO_BOOLEAN:
        if (len != 1 || (text[0] != 't' && text[0] != 'f'))
            return bad_value(err, errlen, kind, len);
        relay_avro_put_bool(b, text[0] == 't');
        return 0;
    case RELAY_AVRO_TIMESTAMP: {
        int64_t us;
        if (relay_parse_timestamp_us((const char *)text, len, &us) < 0)
            return bad_value(err, errlen, kind, len);
        relay_avro_put_long(b, us);
        return 0;
    }
    case RELAY_AVRO_DATE: {
        int32_t days;
        if (relay_parse_date_days((const char *)text, len, &days) < 0)
            return bad_value(err, errlen, kind, len);
        relay_avro_put_long(b, days);
        return 0;
    }
    default:
        if (len == 0 || len > NUMBER_TEXT_MAX || memchr(text, 0, len))
            return bad_value(err, errlen, kind, len);
        memcpy(tmp, text, len);
        tmp[len] = '\0';
        return put_number(b, kind, tmp, err, errlen);
    }
}

void relay_avro_field_name(const char *col, char *out, size_t outlen)
{
    size_t i = 0;
    if (outlen == 0)
        return;
    for (; col[i] && i + 1 < outlen; i++) {
        char ch = col[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                  (i > 0 && ch >= '0' && ch <= '9');
        out[i] = ok ? ch : '_';
    }
    if (i == 0 && outlen > 1)
        out[i++] = '_';
    out[i] = '\0';
}

static json_t *avro_type_json(relay_avro_kind kind)
{
    switch (kind) {
    case RELAY_AVRO_UUID:
        return json_pack("{s:s,s:s}", "type", "string", "logicalType", "uuid");
    case RELAY_AVRO_INT:
        return json_string("int");
    case RELAY_AVRO_LONG:
        return json_string("long");
    case RELAY_AVRO_FLOAT:
        return json_string("float");
    case RELAY_AVRO_DOUBLE:
        return json_string("double");
    case RELAY_AVRO_BOOLEAN:
        return json_string("boolean");
    case RELAY_AVRO_TIMESTAMP:
        return json_pack("{s:s,s:s}", "type", "long", "logicalType", "timestamp-micros");
    case RELAY_AVRO_DATE:
        return json_pack("{s:s,s:s}", "type", "int", "logicalType", "date");
    default:
        return json_string("string");
    }
}

static int add_field(json_t *fields, const char *name, json_t *type, bool nullable)
{
    json_t *f = nullable
                    ? json_pack("{s:s,s:[s,o],s:n}", "name", name, "type", "null", type, "default")
                    : json_pack("{s:s,s:o}", "name", name, "type", type);
    return f ? json_array_append_new(fields, f) : -1;
}

char *relay_avro_schema_json(const relay_pgoutput_relation *rel, char *err, size_t errlen)
{
    char name[256], ns[300];
    char *out = NULL;
    json_t *fields = json_array();
    relay_avro_field_name(rel->relname, name, sizeof name);
    relay_avro_field_name(rel->nspname[0] ? rel->nspname : "pg_catalog", ns + 11, sizeof ns - 11);
    memcpy(ns, "userstream.", 11);
    for (uint16_t i = 0; fields && i < rel->natts; i++) {
        char fname[256];
        relay_avro_field_name(rel->cols[i].name, fname, sizeof fname);
        if (add_field(fields, fname, avro_type_json(relay_avro_kind_of(rel->cols[i].type_oid)),
                      true) < 0)
            goto done;
    }
    if (!fields || add_field(fields, "__op", json_string("string"), false) < 0 ||
        add_field(fields, "__lsn", json_string("long"), false) < 0 ||
        add_field(fields, "__seq", json_string("int"), false) < 0 ||
        add_field(fields, "__commit_ts", avro_type_json(RELAY_AVRO_TIMESTAMP), false) < 0)
        goto done;
    json_t *schema = json_pack("{s:s,s:s,s:s,s:O}", "type", "record", "name", name, "namespace", ns,
                               "fields", fields);
    if (schema) {
        out = json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(schema);
    }
done:
    json_decref(fields);
    if (!out)
        snprintf(err, errlen, "out of memory building the Avro schema");
    return out;
}

int relay_avro_check_change(const relay_pgoutput_relation *old, const relay_pgoutput_relation *new,
                            char *err, size_t errlen)
{
    for (uint16_t i = 0; i < old->natts; i++) {
        const relay_pgoutput_column *oc = &old->cols[i];
        const relay_pgoutput_column *nc = NULL;
        for (uint16_t j = 0; j < new->natts && !nc; j++)
            if (strcmp(new->cols[j].name, oc->name) == 0)
                nc = &new->cols[j];
        if (!nc) {
            snprintf(err, errlen, "column \"%s\" of %s.%s was dropped or renamed", oc->name,
                     old->nspname, old->relname);
            return -1;
        }
        if (relay_avro_kind_of(nc->type_oid) != relay_avro_kind_of(oc->type_oid)) {
            snprintf(err, errlen, "column \"%s\" of %s.%s changed type (oid %u -> %u)", oc->name,
                     old->nspname, old->relname, oc->type_oid, nc->type_oid);
            return -1;
        }
    }
    return 0;
}

/* One representative PostgreSQL type per Avro kind. */
static uint32_t oid_of_kind(json_t *type)
{
    json_t *t = json_is_array(type) && json_array_size(type) == 2 ? json_array_get(type, 1) : type;
    const char *logical =
        json_is_object(t) ? json_string_value(json_object_get(t, "logicalType")) : NULL;
    const char *base =
        json_is_object(t) ? json_string_value(json_object_get(t, "type")) : json_string_value(t);
    if (!base)
        return 0;
    if (logical && strcmp(logical, "uuid") == 0)
        return 2950;
    if (logical && strcmp(logical, "timestamp-micros") == 0)
        return 1184;
    if (logical && strcmp(logical, "date") == 0)
        return 1082;
    static const struct {
        const char *name;
        uint32_t oid;
    } m[] = {{"string", 25}, {"int", 23},     {"long", 20},
             {"float", 700}, {"double", 701}, {"boolean", 16}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(base, m[i].name) == 0)
            return m[i].oid;
    return 0;
}

relay_pgoutput_relation *relay_avro_relation_from_schema(const char *schema_json, char *err,
                                                         size_t errlen)
{
    json_t *j = json_loads(schema_json, 0, NULL);
    json_t *fields = j ? json_object_get(j, "fields") : NULL;
    const char *name = j ? json_string_value(json_object_get(j, "name")) : NULL;
    const char *ns = j ? json_string_value(json_object_get(j, "namespace")) : NULL;
    relay_pgoutput_relation *r = NULL;
    size_t n = json_array_size(fields);
    if (!name || !ns || !json_is_array(fields) || n > RELAY_PGOUTPUT_MAX_ATTS) {
        snprintf(err, errlen, "registered schema is not a userstream relay record");
        goto out;
    }
    if (!(r = calloc(1, sizeof *r)) ||
        !(r->cols = calloc(n ? n : 1, sizeof(relay_pgoutput_column))) ||
        !(r->relname = strdup(name)) ||
        !(r->nspname = strdup(strncmp(ns, "userstream.", 11) == 0 ? ns + 11 : ns)))
        goto oom;
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (!fname || strncmp(fname, "__", 2) == 0)
            continue;
        uint32_t oid = oid_of_kind(json_object_get(f, "type"));
        if (!oid) {
            snprintf(err, errlen, "registered schema: field \"%s\" has an unknown type", fname);
            relay_pgoutput_relation_free(r);
            r = NULL;
            goto out;
        }
        if (!(r->cols[r->natts].name = strdup(fname)))
            goto oom;
        r->cols[r->natts++].type_oid = oid;
    }
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    relay_pgoutput_relation_free(r);
    r = NULL;
out:
    json_decref(j);
    return r;
}
