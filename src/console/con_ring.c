/* con_ring: see con_ring.h. */
#include "con_ring.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char name[CON_RING_NAME_MAX];
    int64_t last_t; /* unix second of the newest slot */
    double *v;      /* v[t % seconds] */
} series;

struct con_ring {
    pthread_mutex_t lock;
    size_t max_series, n_series, seconds;
    series *s;
};

con_ring *con_ring_new(size_t max_series, size_t seconds)
{
    if (!max_series || !seconds)
        return NULL;
    con_ring *r = calloc(1, sizeof *r);
    if (!r || !(r->s = calloc(max_series, sizeof *r->s))) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->max_series = max_series;
    r->seconds = seconds;
    return r;
}

void con_ring_free(con_ring *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_series; i++)
        free(r->s[i].v);
    free(r->s);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

size_t con_ring_seconds(const con_ring *r)
{
    return r->seconds;
}

static series *find(con_ring *r, const char *metric)
{
    for (size_t i = 0; i < r->n_series; i++)
        if (!strcmp(r->s[i].name, metric))
            return &r->s[i];
    return NULL;
}

static series *add(con_ring *r, const char *metric, int64_t t)
{
    if (r->n_series >= r->max_series || strlen(metric) >= CON_RING_NAME_MAX)
        return NULL;
    series *s = &r->s[r->n_series];
    if (!(s->v = malloc(r->seconds * sizeof *s->v)))
        return NULL;
    for (size_t i = 0; i < r->seconds; i++)
        s->v[i] = NAN;
    snprintf(s->name, sizeof s->name, "%s", metric);
    s->last_t = t - 1;
    r->n_series++;
    return s;
}

static size_t slot(const con_ring *r, int64_t t)
{
    int64_t m = t % (int64_t)r->seconds;
    return (size_t)(m < 0 ? m + (int64_t)r->seconds : m);
}

int con_ring_put(con_ring *r, const char *metric, int64_t t, double value)
{
    pthread_mutex_lock(&r->lock);
    series *s = find(r, metric);
    if (!s)
        s = add(r, metric, t);
    int rc = s ? 0 : -1;
    if (s && t >= s->last_t) {
        /* NaN over the seconds nobody wrote (at most the whole ring). */
        int64_t gap = t - s->last_t;
        for (int64_t k = 1; k < gap && k <= (int64_t)r->seconds; k++)
            s->v[slot(r, s->last_t + k)] = NAN;
        s->v[slot(r, t)] = value;
        s->last_t = t;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* The value at second t of s, NaN when outside the kept window. */
static double value_at(const con_ring *r, const series *s, int64_t t)
{
    if (t > s->last_t || t <= s->last_t - (int64_t)r->seconds)
        return NAN;
    return s->v[slot(r, t)];
}

int con_ring_get(con_ring *r, const char *metric, int64_t t, size_t n, double *out)
{
    pthread_mutex_lock(&r->lock);
    series *s = find(r, metric);
    for (size_t i = 0; i < n; i++)
        out[i] = s ? value_at(r, s, t - (int64_t)(n - 1 - i)) : NAN;
    pthread_mutex_unlock(&r->lock);
    return s ? 0 : -1;
}

static double newest_locked(con_ring *r, series *s, int64_t t, size_t max_age)
{
    for (size_t k = 0; k <= max_age; k++) {
        double v = value_at(r, s, t - (int64_t)k);
        if (!isnan(v))
            return v;
    }
    return NAN;
}

double con_ring_at(con_ring *r, const char *metric, int64_t t, size_t max_age)
{
    pthread_mutex_lock(&r->lock);
    series *s = find(r, metric);
    double v = s ? newest_locked(r, s, t, max_age) : NAN;
    pthread_mutex_unlock(&r->lock);
    return v;
}

double con_ring_rate(con_ring *r, const char *metric, int64_t t, size_t window)
{
    if (!window)
        return NAN;
    pthread_mutex_lock(&r->lock);
    series *s = find(r, metric);
    double now = s ? newest_locked(r, s, t, 2) : NAN;
    double then = s ? newest_locked(r, s, t - (int64_t)window, 2) : NAN;
    pthread_mutex_unlock(&r->lock);
    if (isnan(now) || isnan(then) || now < then)
        return NAN;
    return (now - then) / (double)window;
}

size_t con_ring_names(con_ring *r, char *out, size_t outlen)
{
    size_t used = 0, n;
    if (outlen)
        out[0] = '\0';
    pthread_mutex_lock(&r->lock);
    n = r->n_series;
    for (size_t i = 0; i < n && outlen; i++) {
        int w = snprintf(out + used, outlen - used, "%s%s", i ? "," : "", r->s[i].name);
        if (w < 0 || (size_t)w >= outlen - used)
            break;
        used += (size_t)w;
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}
