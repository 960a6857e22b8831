/* con_sample: one collection round of the console (once a second): the
 * numbers go into the time-series ring and into the round's JSON document,
 * details (per-partition offsets, reject reasons) into the document only,
 * and what could not be asked into its error list. Written by the collector
 * thread only. */
#ifndef CON_SAMPLE_H
#define CON_SAMPLE_H

#include "con_ring.h"

#include <jansson.h>
#include <stdint.h>

typedef struct con_sample {
    con_ring *ring;
    int64_t t;       /* unix second of this round */
    json_t *metrics; /* {"name": number|null} */
    json_t *detail;  /* {"section": {...}} */
    json_t *errors;  /* {"source": "reason"} */
} con_sample;

/* A number of this round (NaN: unknown, stored as null and as a ring gap). */
void con_sample_put(con_sample *s, const char *name, double v);
/* The number put in this round; NaN when none. */
double con_sample_get(const con_sample *s, const char *name);
/* Takes over detail (a new reference) as section name. */
void con_sample_detail(con_sample *s, const char *name, json_t *detail);
void con_sample_error(con_sample *s, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
