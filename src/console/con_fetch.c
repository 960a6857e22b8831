/* con_fetch: see con_fetch.h. */
#include "con_fetch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static long fetch(const char *method, const char *url, const char *data, const char *content_type,
                  const char *bearer, const char *userpwd, long timeout_ms, us_buf *body, char *err,
                  size_t errlen);

int con_fetch_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    us_buf *b = ud;
    if (b->len + size * n > CON_FETCH_MAX_BODY)
        return 0; /* curl reports a write error */
    us_buf_put(b, p, size * n);
    return b->oom ? 0 : size * n;
}

long con_fetch_get(const char *url, long timeout_ms, const char *userpwd, us_buf *body, char *err,
                   size_t errlen)
{
    return fetch(NULL, url, NULL, NULL, NULL, userpwd, timeout_ms, body, err, errlen);
}

long con_fetch(const char *method, const char *url, const char *body, const char *content_type,
               const char *bearer, long timeout_ms, us_buf *out, char *err, size_t errlen)
{
    return fetch(method, url, body, content_type, bearer, NULL, timeout_ms, out, err, errlen);
}

static long fetch(const char *method, const char *url, const char *data, const char *content_type,
                  const char *bearer, const char *userpwd, long timeout_ms, us_buf *body, char *err,
                  size_t errlen)
{
    struct curl_slist *hdrs = NULL;
    char line[4096];
    char cerr[CURL_ERROR_SIZE] = "";
    long status = -1;
    us_buf_reset(body);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "userstream-console/" US_VERSION);
    if (userpwd) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    }
    if (method && strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (data) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
        snprintf(line, sizeof line, "Content-Type: %s",
                 content_type ? content_type : "application/json");
        hdrs = curl_slist_append(hdrs, line);
    }
    if (bearer) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", bearer);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    explicit_bzero(line, sizeof line);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
    curl_easy_cleanup(c);
    if (rc == CURLE_OK && body->oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return status;
}
