/* us_creds: see us_creds.h. */
#include "us_creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int us_creds_read(const char *path, char *buf, size_t buflen, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s: group or others may read it (chmod 600)", path);
        close(fd);
        return -1;
    }
    size_t n = 0;
    ssize_t k = 0;
    while (n + 1 < buflen && (k = read(fd, buf + n, buflen - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = '\0';
    if (k < 0 || n + 1 >= buflen) {
        snprintf(err, errlen, "%s: %s", path, k < 0 ? strerror(errno) : "too large");
        memset(buf, 0, buflen);
        return -1;
    }
    return 0;
}

/* Whitespace trimmed off both ends of s, in place. */
static char *trim(char *s)
{
    s += strspn(s, " \t");
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int us_creds_properties(char *text, const char **pairs, size_t n0, size_t max_pairs, char *err,
                        size_t errlen)
{
    size_t n = n0 * 2;
    int line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++; /* strtok_r skips empty lines: a number counts non-empty ones */
        char *k = trim(l), *eq = strchr(k, '=');
        if (!*k || *k == '#')
            continue;
        if (!eq || eq == k) {
            snprintf(err, errlen, "line %d: expected key=value", line);
            return -1;
        }
        if (n / 2 >= max_pairs) {
            snprintf(err, errlen, "more than %zu settings", max_pairs);
            return -1;
        }
        *eq = '\0';
        pairs[n++] = trim(k);
        pairs[n++] = eq + 1;
    }
    pairs[n] = NULL;
    return 0;
}

/* One "key = value" or "key: value" line of a section: key and value out. */
static bool ini_pair(const char *l, size_t len, char *key, size_t keylen, char *val, size_t vallen)
{
    size_t sep = strcspn(l, "=:");
    if (sep >= len || sep == 0)
        return false;
    snprintf(key, keylen, "%.*s", (int)sep, l);
    snprintf(val, vallen, "%.*s", (int)(len - sep - 1), l + sep + 1);
    char *k = trim(key), *v = trim(val);
    memmove(key, k, strlen(k) + 1);
    memmove(val, v, strlen(v) + 1);
    return true;
}

int us_creds_cql(const char *text, char *user, size_t userlen, char *pass, size_t passlen,
                 char *err, size_t errlen)
{
    char key[64], val[512];
    bool in = false;
    user[0] = pass[0] = '\0';
    for (const char *l = text; *l;) {
        size_t len = strcspn(l, "\n");
        const char *s = l + strspn(l, " \t");
        size_t sl = len - (size_t)(s - l);
        if (sl && *s == '[')
            in = sl >= 17 && !strncmp(s, "[plain_text_auth]", 17);
        else if (in && sl && *s != '#' && *s != ';' &&
                 ini_pair(s, sl, key, sizeof key, val, sizeof val)) {
            if (!strcmp(key, "username"))
                snprintf(user, userlen, "%s", val);
            else if (!strcmp(key, "password"))
                snprintf(pass, passlen, "%s", val);
        }
        l += len + (l[len] == '\n');
    }
    memset(val, 0, sizeof val);
    if (!user[0] || !pass[0]) {
        snprintf(err, errlen, "no username and password in a [plain_text_auth] section");
        return -1;
    }
    return 0;
}

int us_creds_userpass(char *text, char *err, size_t errlen)
{
    text[strcspn(text, "\r\n")] = '\0';
    if (!strchr(text, ':') || text[0] == ':') {
        snprintf(err, errlen, "expected one line user:password");
        return -1;
    }
    return 0;
}
