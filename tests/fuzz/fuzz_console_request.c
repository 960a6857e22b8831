/* libFuzzer target: a request target ("path?query", any bytes) of
 * userstream-console, through the query-string checks and readers every
 * route uses and the served-file name check. */
#include "us_http.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool con_api_safe_name(const char *name);

/* A copy of con_api.c's check (it lives there with the server's code). */
bool con_api_safe_name(const char *name)
{
    if (!name[0] || name[0] == '.' || strlen(name) > 128)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const history[] = {"metric", "seconds", NULL};
    static const char *const messages[] = {"topic",     "partition", "offset",
                                           "timestamp", "limit",     NULL};
    char *target = malloc(size + 1), out[512], err[256];
    long v;
    if (!target)
        return 0;
    memcpy(target, data, size);
    target[size] = '\0';
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    const char *query = q ? q : "";
    us_http_query_check(query, history, err, sizeof err);
    us_http_query_check(query, messages, err, sizeof err);
    us_http_query_get(query, "metric", out, sizeof out, err, sizeof err);
    us_http_query_get(query, "topic", out, 8, err, sizeof err);
    us_http_query_long(query, "seconds", 1, 3600, 300, &v, err, sizeof err);
    us_http_query_long(query, "offset", -1, 0x7fffffffffffffffL, -1, &v, err, sizeof err);
    us_url_decode(query, strlen(query), out, sizeof out);
    if (!strncmp(target, "/static/", 8))
        con_api_safe_name(target + 8);
    us_buf b = {0};
    us_json_escape(&b, target);
    us_buf_free(&b);
    free(target);
    return 0;
}
