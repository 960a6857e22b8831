/* con_registry: see con_registry.h. */
#include "con_registry.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_MAX_BODY (4u << 20) /* the largest answer we accept */
#define REG_MAX_CACHE 1024      /* schemas kept by id */
#define REG_MAX_SUBJECTS 1000   /* subjects listed (each costs two requests) */

typedef struct {
    int32_t id;
    con_avro_schema *schema;
} reg_cached;

struct con_registry {
    char *base_url;
    char *userpwd;
    long timeout_ms;
    pthread_mutex_t lock; /* guards the cache */
    reg_cached *cache;
    size_t ncache;
};

typedef struct {
    char *data;
    size_t len;
    bool too_big;
} reg_body;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    reg_body *b = arg;
    size_t add = size * n;
    if (b->len + add > REG_MAX_BODY) {
        b->too_big = true;
        return 0;
    }
    char *d = realloc(b->data, b->len + add + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, p, add);
    b->data = d;
    b->len += add;
    d[b->len] = '\0';
    return add;
}

con_registry *con_registry_new(const char *base_url, const char *userpwd, long timeout_ms,
                               char *err, size_t errlen)
{
    if (!base_url || strncmp(base_url, "http", 4) != 0) {
        snprintf(err, errlen, "registry URL must start with http:// or https://");
        return NULL;
    }
    /* libcurl's global state, set up here (before the callers' threads use
     * the registry) rather than lazily by the first curl_easy_init, which
     * is not thread-safe. Reference-counted: undone by con_registry_free. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return NULL;
    }
    con_registry *r = calloc(1, sizeof(*r));
    if (!r || !(r->base_url = strdup(base_url)) || (userpwd && !(r->userpwd = strdup(userpwd)))) {
        snprintf(err, errlen, "out of memory");
        if (r) {
            free(r->base_url);
            free(r);
        }
        curl_global_cleanup();
        return NULL;
    }
    size_t n = strlen(r->base_url);
    while (n > 0 && r->base_url[n - 1] == '/')
        r->base_url[--n] = '\0';
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void con_registry_free(con_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncache; i++)
        con_avro_schema_free(r->cache[i].schema);
    free(r->cache);
    pthread_mutex_destroy(&r->lock);
    free(r->base_url);
    if (r->userpwd)
        memset(r->userpwd, 0, strlen(r->userpwd));
    free(r->userpwd);
    free(r);
    curl_global_cleanup();
}

/* Every client setting in one place (timeouts, credentials). */
static void reg_configure(con_registry *r, CURL *c, const char *url, reg_body *b)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (r->userpwd) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
    }
}

/* GET base_url + path. Returns the HTTP status (the body in *body, caller
 * frees) or -1 with a reason when no answer came. */
static long reg_get(con_registry *r, const char *path, char **body, char *err, size_t errlen)
{
    char url[2048];
    reg_body b = {0};
    *body = NULL;
    if (snprintf(url, sizeof(url), "%s%s", r->base_url, path) >= (int)sizeof(url)) {
        snprintf(err, errlen, "registry URL too long");
        return -1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    reg_configure(r, c, url, &b);
    CURLcode rc = curl_easy_perform(c);
    long status = -1;
    if (rc != CURLE_OK)
        snprintf(err, errlen, "registry %s: %s", path,
                 b.too_big ? "answer larger than 4 MiB" : curl_easy_strerror(rc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (status < 0)
        free(b.data);
    else
        *body = b.data ? b.data : strdup("");
    return status;
}

/* GET that must answer 200 (404 -> *missing when missing != NULL). */
static char *reg_get_ok(con_registry *r, const char *path, bool *missing, char *err, size_t errlen)
{
    char *body;
    long status = reg_get(r, path, &body, err, errlen);
    if (status == 200)
        return body;
    if (status == 404 && missing)
        *missing = true;
    else if (status >= 0)
        snprintf(err, errlen, "registry %s: HTTP %ld", path, status);
    free(body);
    return NULL;
}

static char *escape(const char *s)
{
    CURL *c = curl_easy_init();
    char *e = c ? curl_easy_escape(c, s, 0) : NULL;
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    if (c)
        curl_easy_cleanup(c);
    return out;
}

static json_t *load_body(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *j = body ? json_loadb(body, len, JSON_DECODE_ANY, &jerr) : NULL;
    if (!j)
        snprintf(err, errlen, "registry answer is not JSON: %s", body ? jerr.text : "empty");
    return j;
}

/* An answer that must be a JSON array whose every item passes is_item. */
static json_t *parse_array(const char *body, size_t len, int (*is_item)(const json_t *),
                           const char *what, char *err, size_t errlen)
{
    json_t *j = load_body(body, len, err, errlen);
    if (j && !json_is_array(j)) {
        snprintf(err, errlen, "registry answer is not an array");
        json_decref(j);
        return NULL;
    }
    for (size_t i = 0; j && i < json_array_size(j); i++) {
        if (!is_item(json_array_get(j, i))) {
            snprintf(err, errlen, "registry answer: item %zu is not %s", i, what);
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

static int is_integer(const json_t *v)
{
    return json_is_integer(v);
}
static int is_string(const json_t *v)
{
    return json_is_string(v);
}

json_t *con_registry_parse_int_array(const char *body, size_t len, char *err, size_t errlen)
{
    return parse_array(body, len, is_integer, "an integer", err, errlen);
}

json_t *con_registry_parse_string_array(const char *body, size_t len, char *err, size_t errlen)
{
    return parse_array(body, len, is_string, "a string", err, errlen);
}

json_t *con_registry_parse_config(const char *body, size_t len, char *err, size_t errlen)
{
    json_t *j = load_body(body, len, err, errlen);
    if (!j)
        return NULL;
    json_t *level = json_object_get(j, "compatibilityLevel");
    if (!level)
        level = json_object_get(j, "compatibility");
    json_t *out = json_is_string(level) ? json_incref(level) : NULL;
    if (!out)
        snprintf(err, errlen, "registry config answer has no compatibility level");
    json_decref(j);
    return out;
}

static bool opt_int(const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);
    return !v || json_is_integer(v);
}

json_t *con_registry_parse_schema(const char *body, size_t len, char *err, size_t errlen)
{
    json_t *j = load_body(body, len, err, errlen);
    if (!j)
        return NULL;
    const json_t *subject = json_object_get(j, "subject");
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "schema")) || !opt_int(j, "id") ||
        !opt_int(j, "version") || (subject && !json_is_string(subject))) {
        snprintf(err, errlen, "registry schema answer: expected {\"schema\":string,...}");
        json_decref(j);
        return NULL;
    }
    return j;
}

typedef json_t *(*reg_parser)(const char *, size_t, char *, size_t);

/* GET path and parse it; 404 gives json null when allow_missing. */
static json_t *reg_fetch(con_registry *r, const char *path, reg_parser parse, bool allow_missing,
                         char *err, size_t errlen)
{
    bool missing = false;
    char *body = reg_get_ok(r, path, allow_missing ? &missing : NULL, err, errlen);
    if (!body)
        return missing ? json_null() : NULL;
    json_t *j = parse(body, strlen(body), err, errlen);
    free(body);
    return j;
}

static json_t *subject_entry(con_registry *r, const char *subject)
{
    char path[1024], err[256] = "";
    char *esc = escape(subject);
    json_t *e = json_pack("{s:s,s:n,s:n,s:n,s:n}", "subject", subject, "versions", "latest",
                          "compatibility", "error");
    if (!esc || !e) {
        free(esc);
        json_decref(e);
        return NULL;
    }
    snprintf(path, sizeof(path), "/subjects/%s/versions", esc);
    json_t *versions = reg_fetch(r, path, con_registry_parse_int_array, false, err, sizeof(err));
    snprintf(path, sizeof(path), "/config/%s", esc);
    json_t *level =
        versions ? reg_fetch(r, path, con_registry_parse_config, true, err, sizeof(err)) : NULL;
    free(esc);
    if (versions) {
        size_t n = json_array_size(versions);
        json_object_set(e, "latest", n ? json_array_get(versions, n - 1) : json_null());
        json_object_set_new(e, "versions", versions);
    }
    if (level)
        json_object_set_new(e, "compatibility", level);
    if (!versions || !level)
        json_object_set_new(e, "error", json_string(err));
    return e;
}

json_t *con_registry_subjects(con_registry *r, char *err, size_t errlen)
{
    json_t *subjects =
        reg_fetch(r, "/subjects", con_registry_parse_string_array, false, err, errlen);
    if (!subjects)
        return NULL;
    json_t *level = reg_fetch(r, "/config", con_registry_parse_config, true, err, errlen);
    json_t *list = json_array();
    json_t *out =
        json_pack("{s:o,s:o}", "compatibility", level ? level : json_null(), "subjects", list);
    for (size_t i = 0; out && i < json_array_size(subjects) && i < REG_MAX_SUBJECTS; i++) {
        json_t *e = subject_entry(r, json_string_value(json_array_get(subjects, i)));
        if (!e || json_array_append_new(list, e) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(subjects);
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
}

/* "latest" or a positive decimal version; anything else is refused before
 * it reaches a URL. */
static int check_version(const char *v, char *err, size_t errlen)
{
    if (v && strcmp(v, "latest") == 0)
        return 0;
    size_t n = v ? strspn(v, "0123456789") : 0;
    if (!v || n == 0 || n > 9 || v[n] != '\0' || v[0] == '0') {
        snprintf(err, errlen, "version must be \"latest\" or a positive number");
        return -1;
    }
    return 0;
}

json_t *con_registry_version(con_registry *r, const char *subject, const char *version, char *err,
                             size_t errlen)
{
    if (!subject || !*subject) {
        snprintf(err, errlen, "no subject");
        return NULL;
    }
    if (check_version(version, err, errlen) < 0)
        return NULL;
    char path[1024], *esc = escape(subject);
    if (!esc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(path, sizeof(path), "/subjects/%s/versions/%s", esc, version);
    free(esc);
    bool missing = false;
    char *body = reg_get_ok(r, path, &missing, err, errlen);
    if (!body) {
        if (missing)
            snprintf(err, errlen, "subject \"%.200s\" has no version %s", subject, version);
        return NULL;
    }
    json_t *j = con_registry_parse_schema(body, strlen(body), err, errlen);
    free(body);
    if (!j)
        return NULL;
    json_t *parsed = json_loads(json_string_value(json_object_get(j, "schema")), 0, NULL);
    json_object_set_new(j, "schema_json", parsed ? parsed : json_null());
    if (!json_object_get(j, "subject"))
        json_object_set_new(j, "subject", json_string(subject));
    return j;
}

json_t *con_registry_diff(con_registry *r, const char *subject, const char *v1, const char *v2,
                          char *err, size_t errlen)
{
    json_t *a = con_registry_version(r, subject, v1, err, errlen);
    json_t *b = a ? con_registry_version(r, subject, v2, err, errlen) : NULL;
    json_t *d =
        b ? con_avro_schema_diff(json_string_value(json_object_get(a, "schema")),
                                 json_string_value(json_object_get(b, "schema")), err, errlen)
          : NULL;
    if (d) {
        json_object_set_new(d, "subject", json_string(subject));
        json_object_set(d, "old_version", json_object_get(a, "version"));
        json_object_set(d, "new_version", json_object_get(b, "version"));
    }
    json_decref(a);
    json_decref(b);
    return d;
}

static const con_avro_schema *cache_find(con_registry *r, int32_t id)
{
    for (size_t i = 0; i < r->ncache; i++) {
        if (r->cache[i].id == id)
            return r->cache[i].schema;
    }
    return NULL;
}

/* Adds a parsed schema; on a race the first one stays and s is freed. */
static const con_avro_schema *cache_add(con_registry *r, int32_t id, con_avro_schema *s, char *err,
                                        size_t errlen)
{
    pthread_mutex_lock(&r->lock);
    const con_avro_schema *found = cache_find(r, id);
    reg_cached *c = NULL;
    if (!found && r->ncache < REG_MAX_CACHE &&
        (c = realloc(r->cache, (r->ncache + 1) * sizeof(*c)))) {
        r->cache = c;
        r->cache[r->ncache++] = (reg_cached){id, s};
        found = s;
        s = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    if (s)
        con_avro_schema_free(s);
    if (!found)
        snprintf(err, errlen, "schema cache full (%d schemas)", REG_MAX_CACHE);
    return found;
}

const con_avro_schema *con_registry_schema_by_id(con_registry *r, int32_t id, char *err,
                                                 size_t errlen)
{
    pthread_mutex_lock(&r->lock);
    const con_avro_schema *found = cache_find(r, id);
    pthread_mutex_unlock(&r->lock);
    if (found)
        return found;
    if (id < 0) {
        snprintf(err, errlen, "negative schema id");
        return NULL;
    }
    char path[64];
    snprintf(path, sizeof(path), "/schemas/ids/%d", id);
    bool missing = false;
    char *body = reg_get_ok(r, path, &missing, err, errlen);
    if (!body) {
        if (missing)
            snprintf(err, errlen, "the registry has no schema with id %d", id);
        return NULL;
    }
    json_t *j = con_registry_parse_schema(body, strlen(body), err, errlen);
    free(body);
    con_avro_schema *s =
        j ? con_avro_schema_parse(json_string_value(json_object_get(j, "schema")), err, errlen)
          : NULL;
    json_decref(j);
    return s ? cache_add(r, id, s, err, errlen) : NULL;
}
