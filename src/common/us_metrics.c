/* us_metrics: see us_metrics.h. */
#include "us_metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_value(us_buf *b, double v)
{
    if (isnan(v))
        us_buf_puts(b, "NaN");
    else if (isinf(v))
        us_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        us_buf_printf(b, "%.0f", v);
    else
        us_buf_printf(b, "%.17g", v);
}

static void put_escaped(us_buf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            us_buf_puts(b, "\\\\");
        else if (*s == '\n')
            us_buf_puts(b, "\\n");
        else if (quote && *s == '"')
            us_buf_puts(b, "\\\"");
        else
            us_buf_put(b, s, 1);
    }
}

void us_prom_family(us_buf *b, const char *name, const char *type, const char *help)
{
    us_buf_printf(b, "# HELP %s ", name);
    put_escaped(b, help, false);
    us_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

void us_prom_sample(us_buf *b, const char *name, const char *const *labels, double v)
{
    us_buf_puts(b, name);
    if (labels && labels[0]) {
        us_buf_puts(b, "{");
        for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
            us_buf_printf(b, "%s%s=\"", i ? "," : "", labels[i]);
            put_escaped(b, labels[i + 1], true);
            us_buf_puts(b, "\"");
        }
        us_buf_puts(b, "}");
    }
    us_buf_puts(b, " ");
    put_value(b, v);
    us_buf_puts(b, "\n");
}

void us_prom_metric(us_buf *b, const char *name, const char *type, const char *help, double v)
{
    us_prom_family(b, name, type, help);
    us_prom_sample(b, name, NULL, v);
}

int us_histogram_init(us_histogram *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof *h);
    if (n > US_HIST_MAX_BUCKETS)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (i && !(bounds[i] > bounds[i - 1]))
            return -1;
        h->bounds[i] = bounds[i];
    }
    h->n = n;
    return 0;
}

void us_histogram_observe(us_histogram *h, double v)
{
    size_t i = 0;
    while (i < h->n && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void us_prom_histogram(us_buf *b, const char *name, const char *help, const us_histogram *h)
{
    char bucket[256], le[32];
    uint64_t cum = 0;
    us_prom_family(b, name, "histogram", help);
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    for (size_t i = 0; i <= h->n; i++) {
        cum += h->counts[i];
        if (i < h->n)
            snprintf(le, sizeof le, "%g", h->bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        const char *labels[] = {"le", le, NULL};
        us_prom_sample(b, bucket, labels, (double)cum);
    }
    us_buf_printf(b, "%s_sum ", name);
    put_value(b, h->sum);
    us_buf_printf(b, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}

/* ---- parser ---- */

typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
    long line;
} cursor;

static bool name_start(int c)
{
    return isalpha(c) || c == '_' || c == ':';
}

static bool name_char(int c)
{
    return isalnum(c) || c == '_' || c == ':';
}

static void skip_blanks(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int fail(cursor *c, const char *why)
{
    snprintf(c->err, c->errlen, "line %ld: %s", c->line, why);
    return -1;
}

/* name{labels}: copies the name into name[] and the raw labels into labels[]. */
static int parse_series(cursor *c, char *name, size_t nlen, char *labels, size_t llen)
{
    size_t n = 0;
    if (c->p >= c->end || !name_start((unsigned char)*c->p))
        return fail(c, "a sample must start with a metric name");
    while (c->p < c->end && name_char((unsigned char)*c->p)) {
        if (n + 1 >= nlen)
            return fail(c, "metric name too long");
        name[n++] = *c->p++;
    }
    name[n] = '\0';
    labels[0] = '\0';
    if (c->p >= c->end || *c->p != '{')
        return 0;
    const char *start = ++c->p;
    bool in_quote = false;
    for (; c->p < c->end && *c->p != '\n'; c->p++) {
        if (in_quote && *c->p == '\\' && c->p + 1 < c->end && c->p[1] != '\n')
            c->p++;
        else if (*c->p == '"')
            in_quote = !in_quote;
        else if (!in_quote && *c->p == '}')
            break;
    }
    if (c->p >= c->end || *c->p != '}')
        return fail(c, "labels not closed by '}'");
    size_t l = (size_t)(c->p - start);
    if (l + 1 > llen)
        return fail(c, "labels too long");
    memcpy(labels, start, l);
    labels[l] = '\0';
    c->p++;
    char probe[2];
    if (l && us_prom_label(labels, "", probe, sizeof probe) < 0)
        return fail(c, "malformed labels");
    return 0;
}

static int parse_value(cursor *c, double *v)
{
    char tok[64];
    size_t n = 0;
    skip_blanks(c);
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\n' && *c->p != '\r') {
        if (n + 1 >= sizeof tok)
            return fail(c, "value too long");
        tok[n++] = *c->p++;
    }
    tok[n] = '\0';
    if (!n)
        return fail(c, "missing value");
    if (!strcmp(tok, "+Inf") || !strcmp(tok, "Inf"))
        *v = INFINITY;
    else if (!strcmp(tok, "-Inf"))
        *v = -INFINITY;
    else if (!strcmp(tok, "NaN"))
        *v = NAN;
    else {
        char *e;
        if (!(isdigit((unsigned char)tok[0]) || tok[0] == '-' || tok[0] == '+' || tok[0] == '.'))
            return fail(c, "value is not a number");
        *v = strtod(tok, &e);
        if (*e)
            return fail(c, "value is not a number");
    }
    skip_blanks(c);
    while (c->p < c->end && (isdigit((unsigned char)*c->p) || *c->p == '-'))
        c->p++; /* optional timestamp */
    skip_blanks(c);
    if (c->p < c->end && *c->p == '\r')
        c->p++;
    if (c->p < c->end && *c->p != '\n')
        return fail(c, "junk after the value");
    return 0;
}

static void skip_line(cursor *c)
{
    while (c->p < c->end && *c->p != '\n')
        c->p++;
}

int us_prom_parse(const char *text, size_t len, us_prom_cb cb, void *ud, char *err, size_t errlen)
{
    cursor c = {text, text + len, err, errlen, 0};
    char name[256], labels[2048];
    while (c.p < c.end) {
        c.line++;
        skip_blanks(&c);
        if (c.p < c.end && *c.p != '#' && *c.p != '\n' && *c.p != '\r') {
            us_prom_sample_t s = {name, labels, 0};
            if (parse_series(&c, name, sizeof name, labels, sizeof labels) < 0 ||
                parse_value(&c, &s.value) < 0)
                return -1;
            int rc = cb(ud, &s);
            if (rc)
                return rc;
        }
        skip_line(&c);
        if (c.p < c.end)
            c.p++;
    }
    return 0;
}

/* Walks name="value" pairs; an empty key only validates. */
int us_prom_label(const char *labels, const char *key, char *out, size_t outlen)
{
    const char *p = labels;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *k = p;
        if (!name_start((unsigned char)*p))
            return -1;
        while (name_char((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - k);
        while (*p == ' ')
            p++;
        if (*p++ != '=')
            return -1;
        while (*p == ' ')
            p++;
        if (*p++ != '"')
            return -1;
        bool match = *key && strlen(key) == klen && !strncmp(k, key, klen);
        size_t n = 0;
        for (; *p && *p != '"'; p++) {
            char ch = *p;
            if (ch == '\\') {
                p++;
                if (*p == 'n')
                    ch = '\n';
                else if (*p == '\\' || *p == '"')
                    ch = *p;
                else
                    return -1;
            }
            if (match) {
                if (n + 1 >= outlen)
                    return -1;
                out[n++] = ch;
            }
        }
        if (*p++ != '"')
            return -1;
        if (match) {
            out[n] = '\0';
            return 1;
        }
    }
    return 0;
}
