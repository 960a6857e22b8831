/* con_checkpoint: see con_checkpoint.h. */
#include "con_checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_MAX_FILE (1u << 20) /* an offsets file is a few hundred bytes */
#define CKPT_MAX_SOURCES 64
#define CKPT_MAX_PARTITIONS 100000

/* A partition key: decimal, no sign, no leading zero, < 2^31. */
static int parse_partition(const char *s, int32_t *out)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 10 || s[n] != '\0' || (s[0] == '0' && n > 1))
        return -1;
    long long v = strtoll(s, NULL, 10);
    if (v > INT32_MAX)
        return -1;
    *out = (int32_t)v;
    return 0;
}

/* Inserts {"partition":p,"offset":o} keeping the array ordered by p. */
static int insert_sorted(json_t *parts, int32_t p, json_int_t off)
{
    size_t i = json_array_size(parts);
    while (i > 0 &&
           json_integer_value(json_object_get(json_array_get(parts, i - 1), "partition")) > p)
        i--;
    return json_array_insert_new(parts, i, json_pack("{s:i,s:I}", "partition", p, "offset", off));
}

/* {"topic":{"0":1,...},...} -> {"topics":[...]}; NULL when it is not the
 * Kafka source's shape (then the source is shown as null, not an error). */
static json_t *kafka_source(const json_t *src)
{
    const char *topic;
    const json_t *parts;
    json_t *topics = json_array();
    size_t total = 0;
    if (!json_is_object(src) || json_object_size(src) == 0 || !topics)
        goto fail;
    json_object_foreach((json_t *)src, topic, parts)
    {
        const char *key;
        const json_t *off;
        json_t *list = json_is_object(parts) ? json_array() : NULL;
        if (!list || json_array_append_new(
                         topics, json_pack("{s:s,s:o}", "topic", topic, "partitions", list)) < 0)
            goto fail;
        json_object_foreach((json_t *)parts, key, off)
        {
            int32_t p;
            if (parse_partition(key, &p) < 0 || !json_is_integer(off) ||
                ++total > CKPT_MAX_PARTITIONS ||
                insert_sorted(list, p, json_integer_value(off)) < 0)
                goto fail;
        }
    }
    return json_pack("{s:o}", "topics", topics);
fail:
    json_decref(topics);
    return NULL;
}

static int parse_version(const char *line, size_t len, int *version)
{
    if (len < 2 || len > 4 || line[0] != 'v')
        return -1;
    int v = 0;
    for (size_t i = 1; i < len; i++) {
        if (line[i] < '0' || line[i] > '9')
            return -1;
        v = v * 10 + (line[i] - '0');
    }
    *version = v;
    return v >= 1 ? 0 : -1;
}

/* One source line: "-" or empty JSON means no offsets. */
static json_t *source_line(const char *line, size_t len)
{
    if (len == 1 && line[0] == '-')
        return json_null();
    json_t *j = json_loadb(line, len, JSON_DECODE_ANY, NULL);
    json_t *src = j ? kafka_source(j) : NULL;
    json_decref(j);
    return src ? src : json_null();
}

json_t *con_checkpoint_parse_offsets(const char *text, size_t len, char *err, size_t errlen)
{
    int version;
    const char *p = text, *end = text + len;
    json_t *out = NULL, *sources = json_array();
    for (int lineno = 1; sources && p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (lineno == 1 && parse_version(p, n, &version) < 0) {
            snprintf(err, errlen, "line 1: expected a version such as \"v1\"");
            goto fail;
        } else if (lineno == 2) {
            json_t *meta = json_loadb(p, n, 0, NULL);
            if (!json_is_object(meta)) {
                json_decref(meta);
                snprintf(err, errlen, "line 2: the batch metadata is not a JSON object");
                goto fail;
            }
            out = json_pack("{s:i,s:o}", "version", version, "metadata", meta);
        } else if (lineno > 2 && n > 0) {
            if (json_array_size(sources) >= CKPT_MAX_SOURCES) {
                snprintf(err, errlen, "more than %d sources", CKPT_MAX_SOURCES);
                goto fail;
            }
            json_array_append_new(sources, source_line(p, n));
        }
        p = nl ? nl + 1 : end;
    }
    if (!out) {
        snprintf(err, errlen, "%s", len ? "no metadata line" : "empty offsets file");
        goto fail;
    }
    json_object_set_new(out, "sources", sources);
    return out;
fail:
    json_decref(out);
    json_decref(sources);
    return NULL;
}

/* The largest batch id among a directory's plain decimal file names. */
static int scan_batches(const char *dir, const char *sub, long long **ids, size_t *n, char *err,
                        size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    DIR *d = opendir(path);
    *ids = NULL;
    *n = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0; /* no batch yet */
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len == 0 || len > 18 || strspn(e->d_name, "0123456789") != len)
            continue;
        if (*n == cap) {
            long long *grown = realloc(*ids, (cap = cap ? cap * 2 : 64) * sizeof(**ids));
            if (!grown)
                break;
            *ids = grown;
        }
        (*ids)[(*n)++] = strtoll(e->d_name, NULL, 10);
    }
    closedir(d);
    return 0;
}

static char *read_capped(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CKPT_MAX_FILE + 1);
    *len = buf ? fread(buf, 1, CKPT_MAX_FILE + 1, f) : 0;
    fclose(f);
    if (!buf || *len > CKPT_MAX_FILE) {
        snprintf(err, errlen, "%s: %s", path, buf ? "larger than 1 MiB" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

static long long latest_common(const long long *a, size_t na, const long long *b, size_t nb)
{
    long long best = -1;
    for (size_t i = 0; i < na; i++) {
        for (size_t k = 0; a[i] > best && k < nb; k++) {
            if (a[i] == b[k])
                best = a[i];
        }
    }
    return best;
}

json_t *con_checkpoint_latest(const char *dir, char *err, size_t errlen)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        snprintf(err, errlen, "checkpoint directory %s: %s", dir ? dir : "(none)",
                 dir ? strerror(errno) : "not set");
        return NULL;
    }
    closedir(d);
    long long *offs = NULL, *commits = NULL;
    size_t noffs, ncommits;
    json_t *out = NULL;
    if (scan_batches(dir, "offsets", &offs, &noffs, err, errlen) == 0 &&
        scan_batches(dir, "commits", &commits, &ncommits, err, errlen) == 0) {
        long long batch = latest_common(offs, noffs, commits, ncommits);
        if (batch < 0) {
            out = json_pack("{s:n,s:n}", "batch", "offsets");
        } else {
            char path[4096];
            size_t len;
            snprintf(path, sizeof(path), "%s/offsets/%lld", dir, batch);
            char *text = read_capped(path, &len, err, errlen);
            json_t *parsed = text ? con_checkpoint_parse_offsets(text, len, err, errlen) : NULL;
            free(text);
            if (parsed)
                out = json_pack("{s:I,s:o}", "batch", (json_int_t)batch, "offsets", parsed);
        }
    }
    free(offs);
    free(commits);
    return out;
}
