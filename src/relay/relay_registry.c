/* relay_registry: see relay_registry.h. */
#include "relay_registry.h"
#include "us_creds.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A schema registry answer is small; anything bigger is not one. */
#define RESPONSE_MAX (1u << 20)

struct relay_registry {
    CURL *curl;
    char *base;
    char *userpwd; /* "user:password" or NULL */
    long timeout_ms;
};

typedef struct {
    char *data;
    size_t len;
    int overflow;
} body_buf;

relay_registry *relay_registry_new(const char *base_url, long timeout_ms)
{
    relay_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->curl = curl_easy_init();
    r->base = strdup(base_url);
    r->timeout_ms = timeout_ms;
    if (!r->curl || !r->base) {
        relay_registry_free(r);
        return NULL;
    }
    size_t n = strlen(r->base);
    while (n > 0 && r->base[n - 1] == '/')
        r->base[--n] = '\0';
    return r;
}

void relay_registry_free(relay_registry *r)
{
    if (!r)
        return;
    if (r->curl)
        curl_easy_cleanup(r->curl);
    free(r->base);
    if (r->userpwd) {
        memset(r->userpwd, 0, strlen(r->userpwd));
        free(r->userpwd);
    }
    free(r);
}

int relay_registry_set_credentials_file(relay_registry *r, const char *path, char *err,
                                        size_t errlen)
{
    char text[512], e[256];
    if (us_creds_read(path, text, sizeof text, e, sizeof e) < 0 ||
        us_creds_userpass(text, e, sizeof e) < 0) {
        snprintf(err, errlen, "registry credentials: %s", e);
        memset(text, 0, sizeof text);
        return -1;
    }
    free(r->userpwd);
    r->userpwd = strdup(text);
    memset(text, 0, sizeof text);
    if (!r->userpwd) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > RESPONSE_MAX) {
        b->overflow = 1;
        return 0;
    }
    char *d = realloc(b->data, b->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, ptr, n);
    b->data = d;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* One HTTP call; returns the status code (0 on transport failure) and the
 * body in *out (malloc'd, NUL-terminated, may be NULL). */
static long call(relay_registry *r, const char *method, const char *path, const char *json,
                 body_buf *out, char *err, size_t errlen)
{
    char url[2048];
    long status = 0;
    struct curl_slist *hdr = NULL;
    CURL *c = r->curl;
    snprintf(url, sizeof url, "%s%s", r->base, path);
    curl_easy_reset(c);
    hdr = curl_slist_append(hdr, "Content-Type: application/vnd.schemaregistry.v1+json");
    hdr =
        curl_slist_append(hdr, "Accept: application/vnd.schemaregistry.v1+json, application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (r->userpwd) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
    }
    if (json)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s %s: %s", method, url,
                 out->overflow ? "response too large" : curl_easy_strerror(rc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    return rc == CURLE_OK ? status : 0;
}

/* Maps an HTTP status to a result, with the registry's message in err. */
static int classify(long status, const body_buf *b, const char *what, char *err, size_t errlen)
{
    if (status >= 200 && status < 300)
        return RELAY_REG_OK;
    if (status == 0)
        return RELAY_REG_TRANSIENT;
    snprintf(err, errlen, "%s: HTTP %ld: %.300s", what, status, b->data ? b->data : "");
    if (status == 404)
        return RELAY_REG_NOT_FOUND;
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        return RELAY_REG_REJECTED;
    return RELAY_REG_TRANSIENT;
}

static char *escape_path(relay_registry *r, const char *s)
{
    char *e = curl_easy_escape(r->curl, s, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

int relay_registry_set_compat(relay_registry *r, const char *subject, const char *level, char *err,
                              size_t errlen)
{
    char path[1024];
    body_buf b = {0};
    char *subj = escape_path(r, subject);
    json_t *j = json_pack("{s:s}", "compatibility", level);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = RELAY_REG_TRANSIENT;
    if (!subj || !body) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(path, sizeof path, "/config/%s", subj);
    rc =
        classify(call(r, "PUT", path, body, &b, err, errlen), &b, "set compatibility", err, errlen);
out:
    free(b.data);
    free(body);
    json_decref(j);
    free(subj);
    return rc;
}

int relay_registry_parse_id(const char *body, size_t len, int32_t *id)
{
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = j ? json_object_get(j, "id") : NULL;
    int rc = -1;
    if (v && json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= INT32_MAX) {
        *id = (int32_t)json_integer_value(v);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

int relay_registry_register(relay_registry *r, const char *subject, const char *schema_json,
                            int32_t *id, char *err, size_t errlen)
{
    char path[1024];
    body_buf b = {0};
    char *subj = escape_path(r, subject);
    json_t *j = json_pack("{s:s,s:s}", "schema", schema_json, "schemaType", "AVRO");
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = RELAY_REG_TRANSIENT;
    if (!subj || !body) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(path, sizeof path, "/subjects/%s/versions", subj);
    rc = classify(call(r, "POST", path, body, &b, err, errlen), &b, "register schema", err, errlen);
    if (rc == RELAY_REG_OK && (!b.data || relay_registry_parse_id(b.data, b.len, id) < 0)) {
        snprintf(err, errlen, "register schema: answer without an id: %.200s",
                 b.data ? b.data : "");
        rc = RELAY_REG_TRANSIENT;
    }
out:
    free(b.data);
    free(body);
    json_decref(j);
    free(subj);
    return rc;
}

int relay_registry_latest(relay_registry *r, const char *subject, char **schema_json, char *err,
                          size_t errlen)
{
    char path[1024];
    body_buf b = {0};
    char *subj = escape_path(r, subject);
    int rc = RELAY_REG_TRANSIENT;
    if (!subj) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    snprintf(path, sizeof path, "/subjects/%s/versions/latest", subj);
    rc = classify(call(r, "GET", path, NULL, &b, err, errlen), &b, "latest schema", err, errlen);
    if (rc == RELAY_REG_OK) {
        json_t *j = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
        json_t *s = j ? json_object_get(j, "schema") : NULL;
        *schema_json = (s && json_is_string(s)) ? strdup(json_string_value(s)) : NULL;
        if (!*schema_json) {
            snprintf(err, errlen, "latest schema: malformed answer");
            rc = RELAY_REG_TRANSIENT;
        }
        json_decref(j);
    }
    free(b.data);
    free(subj);
    return rc;
}
