/* con_sample: see con_sample.h. */
#include "con_sample.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

void con_sample_put(con_sample *s, const char *name, double v)
{
    con_ring_put(s->ring, name, s->t, v);
    json_t *j;
    if (!isfinite(v))
        j = json_null();
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        j = json_integer((json_int_t)v); /* counts print as integers */
    else
        j = json_real(v);
    json_object_set_new(s->metrics, name, j);
}

double con_sample_get(const con_sample *s, const char *name)
{
    json_t *v = json_object_get(s->metrics, name);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

void con_sample_detail(con_sample *s, const char *name, json_t *detail)
{
    json_object_set_new(s->detail, name, detail ? detail : json_null());
}

void con_sample_error(con_sample *s, const char *source, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object_set_new(s->errors, source, json_string(msg));
}
