/* us_err: see us_err.h. */
#include "us_err.h"

#include <stdio.h>

void us_err_vset(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
}

void us_err_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    us_err_vset(err, errlen, fmt, ap);
    va_end(ap);
}
