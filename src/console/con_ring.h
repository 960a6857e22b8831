/* con_ring: the console's own time series. One bounded ring per metric, one
 * slot per second (the last US_CONSOLE_HISTORY_S seconds, default an hour),
 * NaN where nothing was measured. The collector thread writes once a second,
 * HTTP threads read; one mutex guards the store (a read copies out).
 *
 * Memory is fixed at creation: max_series * seconds * 8 bytes (64 * 3600 *
 * 8 = 1.8 MB), so a long-running console does not grow. */
#ifndef CON_RING_H
#define CON_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct con_ring con_ring;

#define CON_RING_NAME_MAX 48

con_ring *con_ring_new(size_t max_series, size_t seconds);
void con_ring_free(con_ring *r);

size_t con_ring_seconds(const con_ring *r);

/* Records value of metric at unix second t. A new metric takes a free slot
 * (-1 when the store is full or the name too long). Seconds skipped since
 * the metric's last write become NaN; a t older than the newest is ignored. */
int con_ring_put(con_ring *r, const char *metric, int64_t t, double value);

/* Copies the last n seconds ending at t (inclusive) into out[0..n-1], oldest
 * first; NaN where unknown. Returns -1 for an unknown metric. */
int con_ring_get(con_ring *r, const char *metric, int64_t t, size_t n, double *out);

/* The newest value at or before t, looking back at most max_age seconds;
 * NaN when none. */
double con_ring_at(con_ring *r, const char *metric, int64_t t, size_t max_age);

/* Per-second rate of a counter over window seconds ending at t: (v(t) -
 * v(t - window)) / window, each taken as the newest known value at most 2 s
 * older than its point. NaN when either is unknown or the counter went back
 * (a reset). */
double con_ring_rate(con_ring *r, const char *metric, int64_t t, size_t window);

/* Names of the known metrics, "a,b,c" into out; returns the count. */
size_t con_ring_names(con_ring *r, char *out, size_t outlen);

#endif
