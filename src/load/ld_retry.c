#include "ld_retry.h"

#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

ld_attempt_class ld_retry_classify(int curl_code, long http_status)
{
    switch (curl_code) {
    case CURLE_OK:
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return LD_ATTEMPT_PERMANENT;
    default:
        /* timeouts, refused/reset connections, partial bodies, a body over
         * the size cap, TLS hiccups: all worth another try */
        return LD_ATTEMPT_RETRY;
    }
    if (http_status == 200)
        return LD_ATTEMPT_OK;
    if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status <= 599))
        return LD_ATTEMPT_RETRY;
    return LD_ATTEMPT_PERMANENT;
}

double ld_rng_uniform(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

double ld_retry_delay(const ld_retry_policy *p, int retry, double retry_after, uint64_t *rng)
{
    double ceiling = p->base_s * ldexp(1.0, retry > 1 ? (retry - 1 > 30 ? 30 : retry - 1) : 0);
    if (ceiling > p->cap_s)
        ceiling = p->cap_s;
    double delay = ceiling * ld_rng_uniform(rng);
    if (retry_after >= 0) {
        double ra = retry_after > p->retry_after_max ? p->retry_after_max : retry_after;
        if (delay < ra)
            delay = ra;
    }
    return delay;
}

int ld_retry_after_parse(const char *value, time_t now, double *out)
{
    const char *s = value;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s >= '0' && *s <= '9') {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end != '\0')
            return -1;
        *out = v > 86400ULL * 365 ? 86400.0 * 365 : (double)v;
        return 0;
    }
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end)
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0')
        return -1;
    time_t at = timegm(&tm);
    *out = at > now ? (double)(at - now) : 0.0;
    return 0;
}
