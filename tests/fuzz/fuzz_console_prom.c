/* libFuzzer target: Prometheus text as the relay's /metrics could send it
 * (any bytes): the parser, label lookups, and the console's reading of it
 * into numbers and 5-minute latency quantiles, twice (so the differences of
 * two scrapes are computed too). */
#include "con_ring.h"
#include "con_sample.h"
#include "con_upstream.h"
#include "us_metrics.h"

#include <stdint.h>
#include <string.h>

static int on_sample(void *ud, const us_prom_sample_t *s)
{
    char v[64];
    us_prom_label(s->labels, "le", v, sizeof v);
    us_prom_label(s->labels, "code", v, 4);
    (void)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static con_ring *ring;
    static con_upstream *u;
    static int64_t t = 1000;
    char err[256];
    if (!ring) {
        con_upstream_conf cf = {0};
        ring = con_ring_new(64, 600);
        u = con_upstream_new(&cf);
    }
    us_prom_parse((const char *)data, size, on_sample, NULL, err, sizeof err);
    for (int i = 0; i < 2; i++) {
        con_sample s = {ring, t++, json_object(), json_object(), json_object()};
        con_upstream_parse_relay(u, &s, (const char *)data, size, err, sizeof err);
        json_decref(s.metrics), json_decref(s.detail), json_decref(s.errors);
    }
    return 0;
}
