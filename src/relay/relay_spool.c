/* relay_spool: see relay_spool.h. */
#include "relay_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A pgoutput message larger than this is not one we can have written. */
#define SPOOL_RECORD_MAX (1u << 30)

typedef struct {
    uint32_t subxid;
    off_t first; /* offset of its first record */
} spool_sub;

typedef struct {
    uint32_t xid;
    int fd;
    off_t size;
    spool_sub *subs;
    size_t nsubs, capsubs;
} spool_file;

struct relay_spool {
    char *dir;
    spool_file *files;
    size_t nfiles, capfiles;
};

static void path_of(const relay_spool *s, uint32_t xid, char *buf, size_t len)
{
    snprintf(buf, len, "%s/xid-%u.spool", s->dir, xid);
}

static void remove_leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4096];
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 6 && strcmp(e->d_name + n - 6, ".spool") == 0) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
}

relay_spool *relay_spool_new(const char *dir, char *err, size_t errlen)
{
    relay_spool *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
        relay_spool_free(s);
        return NULL;
    }
    remove_leftovers(dir);
    return s;
}

static void file_close(relay_spool *s, size_t i)
{
    char p[4096];
    spool_file *f = &s->files[i];
    close(f->fd);
    path_of(s, f->xid, p, sizeof p);
    unlink(p);
    free(f->subs);
    s->files[i] = s->files[--s->nfiles];
}

void relay_spool_free(relay_spool *s)
{
    if (!s)
        return;
    while (s->nfiles)
        file_close(s, s->nfiles - 1);
    free(s->files);
    free(s->dir);
    free(s);
}

static spool_file *find(relay_spool *s, uint32_t xid, size_t *idx)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (s->files[i].xid == xid) {
            if (idx)
                *idx = i;
            return &s->files[i];
        }
    return NULL;
}

static spool_file *open_file(relay_spool *s, uint32_t xid, char *err, size_t errlen)
{
    char p[4096];
    if (s->nfiles == s->capfiles) {
        size_t cap = s->capfiles ? s->capfiles * 2 : 8;
        spool_file *n = realloc(s->files, cap * sizeof *n);
        if (!n) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        s->files = n;
        s->capfiles = cap;
    }
    path_of(s, xid, p, sizeof p);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "spool %s: %s", p, strerror(errno));
        return NULL;
    }
    spool_file *f = &s->files[s->nfiles++];
    *f = (spool_file){.xid = xid, .fd = fd};
    return f;
}

static int note_sub(spool_file *f, uint32_t subxid, char *err, size_t errlen)
{
    for (size_t i = 0; i < f->nsubs; i++)
        if (f->subs[i].subxid == subxid)
            return 0;
    if (f->nsubs == f->capsubs) {
        size_t cap = f->capsubs ? f->capsubs * 2 : 8;
        spool_sub *n = realloc(f->subs, cap * sizeof *n);
        if (!n) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        f->subs = n;
        f->capsubs = cap;
    }
    f->subs[f->nsubs++] = (spool_sub){subxid, f->size};
    return 0;
}

int relay_spool_append(relay_spool *s, uint32_t xid, uint32_t subxid, const uint8_t *msg,
                       size_t len, char *err, size_t errlen)
{
    spool_file *f = find(s, xid, NULL);
    if (!f && !(f = open_file(s, xid, err, errlen)))
        return -1;
    if (len > SPOOL_RECORD_MAX || note_sub(f, subxid, err, errlen) < 0) {
        if (len > SPOOL_RECORD_MAX)
            snprintf(err, errlen, "spool: message of %zu bytes", len);
        return -1;
    }
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    if (pwrite(f->fd, hdr, 4, f->size) != 4 ||
        pwrite(f->fd, msg, len, f->size + 4) != (ssize_t)len) {
        snprintf(err, errlen, "spool write: %s", strerror(errno));
        return -1;
    }
    f->size += 4 + (off_t)len;
    return 0;
}

int relay_spool_abort(relay_spool *s, uint32_t xid, uint32_t subxid, char *err, size_t errlen)
{
    size_t idx;
    spool_file *f = find(s, xid, &idx);
    if (!f)
        return 0; /* nothing of it was spooled */
    if (subxid == xid) {
        file_close(s, idx);
        return 0;
    }
    for (size_t i = 0; i < f->nsubs; i++) {
        if (f->subs[i].subxid != subxid)
            continue;
        off_t cut = f->subs[i].first;
        if (ftruncate(f->fd, cut) < 0) {
            snprintf(err, errlen, "spool truncate: %s", strerror(errno));
            return -1;
        }
        f->size = cut;
        size_t keep = 0;
        for (size_t j = 0; j < f->nsubs; j++)
            if (f->subs[j].first < cut)
                f->subs[keep++] = f->subs[j];
        f->nsubs = keep;
        return 0;
    }
    return 0;
}

int relay_spool_replay(relay_spool *s, uint32_t xid, relay_spool_fn fn, void *ud, char *err,
                       size_t errlen)
{
    size_t idx;
    spool_file *f = find(s, xid, &idx);
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    if (!f)
        return 0;
    for (off_t at = 0; at < f->size && rc == 0;) {
        uint8_t hdr[4];
        if (pread(f->fd, hdr, 4, at) != 4) {
            snprintf(err, errlen, "spool read: %s", strerror(errno));
            rc = -1;
            break;
        }
        size_t len =
            ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
        if (len > SPOOL_RECORD_MAX || at + 4 + (off_t)len > f->size) {
            snprintf(err, errlen, "spool: corrupt record at offset %lld", (long long)at);
            rc = -1;
            break;
        }
        if (len > cap) {
            uint8_t *n = realloc(buf, len);
            if (!n) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            buf = n;
            cap = len;
        }
        if (pread(f->fd, buf, len, at + 4) != (ssize_t)len) {
            snprintf(err, errlen, "spool read: %s", strerror(errno));
            rc = -1;
            break;
        }
        rc = fn(ud, buf, len, err, errlen);
        at += 4 + (off_t)len;
    }
    free(buf);
    if (rc == 0)
        file_close(s, idx);
    return rc;
}

size_t relay_spool_open_count(const relay_spool *s)
{
    return s->nfiles;
}
