/* us_metrics: the Prometheus text exposition format (version 0.0.4), both
 * ways: a writer for the /metrics endpoints of our programs, and a parser for
 * the /metrics of other programs (the console reads the relay's).
 *
 * Format, one sample per line:
 *   # HELP name text          (\\ and \n escaped in text)
 *   # TYPE name counter|gauge|histogram|summary|untyped
 *   name{label="value",...} 1.5e3 [timestamp_ms]
 * Label values escape \\, \" and \n. A value is a Go float: digits,
 * exponent, +Inf, -Inf, NaN. */
#ifndef US_METRICS_H
#define US_METRICS_H

#include "us_buf.h"

#include <stddef.h>
#include <stdint.h>

/* ---- writer ---- */

/* "# HELP" and "# TYPE" lines of one metric family. */
void us_prom_family(us_buf *b, const char *name, const char *type, const char *help);
/* One sample; labels is NULL or a list of name, value pairs ending in NULL. */
void us_prom_sample(us_buf *b, const char *name, const char *const *labels, double v);
/* A family with one unlabelled sample. */
void us_prom_metric(us_buf *b, const char *name, const char *type, const char *help, double v);

/* A histogram with fixed bucket bounds (seconds or any unit), not locked:
 * the owner serialises observe and write. */
#define US_HIST_MAX_BUCKETS 24
typedef struct us_histogram {
    size_t n;                                 /* bounds in use */
    double bounds[US_HIST_MAX_BUCKETS];       /* ascending upper bounds */
    uint64_t counts[US_HIST_MAX_BUCKETS + 1]; /* per bucket, last = +Inf */
    double sum;
    uint64_t count;
} us_histogram;

/* Returns -1 when there are too many bounds or they do not ascend. */
int us_histogram_init(us_histogram *h, const double *bounds, size_t n);
void us_histogram_observe(us_histogram *h, double v);
void us_prom_histogram(us_buf *b, const char *name, const char *help, const us_histogram *h);

/* ---- parser ---- */

/* One parsed sample. labels is the text between the braces, unescaped
 * values left as written ("" when none); use us_prom_label to read one. */
typedef struct us_prom_sample_t {
    const char *name;
    const char *labels;
    double value;
} us_prom_sample_t;

/* Called per sample; return non-zero to stop parsing (returned as is). */
typedef int (*us_prom_cb)(void *ud, const us_prom_sample_t *s);

/* Parses text (len bytes, NUL not needed). Comments and blank lines are
 * skipped. Returns 0, the callback's non-zero value, or -1 with "line N:
 * reason" in err at the first malformed line. */
int us_prom_parse(const char *text, size_t len, us_prom_cb cb, void *ud, char *err, size_t errlen);

/* The unescaped value of label key in a labels string from the parser.
 * Returns 1 found, 0 missing, -1 malformed or too long for out. */
int us_prom_label(const char *labels, const char *key, char *out, size_t outlen);

#endif
