/* con_auth: see con_auth.h. */
#include "con_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct session {
    char id[CON_AUTH_ID_HEX + 1];
    time_t expires;
} session;

struct con_auth {
    pthread_mutex_t lock;
    char password[256];
    char token[256];
    long ttl_s;
    session s[CON_AUTH_MAX_SESSIONS];
};

int con_auth_read_secret(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        snprintf(err, errlen, "%s: not a regular file", path);
    else if (st.st_mode & 077)
        snprintf(err, errlen, "%s: readable by group or others (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
    else if ((n = read(fd, out, outlen - 1)) < 0)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    close(fd);
    if (n < 0)
        return -1;
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    if (!out[0] || (size_t)n >= outlen - 1) {
        snprintf(err, errlen, "%s: empty, or longer than %zu bytes", path, outlen - 2);
        return -1;
    }
    return 0;
}

con_auth *con_auth_new(const char *password_path, const char *token_path, long ttl_s, char *err,
                       size_t errlen)
{
    con_auth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (con_auth_read_secret(password_path, a->password, sizeof a->password, err, errlen) < 0 ||
        (token_path &&
         con_auth_read_secret(token_path, a->token, sizeof a->token, err, errlen) < 0)) {
        con_auth_free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    a->ttl_s = ttl_s;
    return a;
}

void con_auth_free(con_auth *a)
{
    if (!a)
        return;
    explicit_bzero(a, sizeof *a);
    free(a);
}

bool con_auth_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)b[lb ? i % lb : 0];
    return diff == 0;
}

bool con_auth_password_ok(con_auth *a, const char *password)
{
    return password && con_auth_equal(password, a->password);
}

int con_auth_session_new(con_auth *a, char *id, size_t idlen)
{
    unsigned char raw[CON_AUTH_ID_HEX / 2];
    if (idlen < CON_AUTH_ID_HEX + 1 || getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    time_t now = time(NULL);
    pthread_mutex_lock(&a->lock);
    size_t pick = 0; /* a free or expired slot, else the one closest to expiry */
    for (size_t i = 0; i < CON_AUTH_MAX_SESSIONS; i++) {
        if (a->s[i].expires <= now) {
            pick = i;
            break;
        }
        if (a->s[i].expires < a->s[pick].expires)
            pick = i;
    }
    memcpy(a->s[pick].id, id, CON_AUTH_ID_HEX + 1);
    a->s[pick].expires = now + a->ttl_s;
    pthread_mutex_unlock(&a->lock);
    return 0;
}

bool con_auth_session_ok(con_auth *a, const char *id)
{
    bool ok = false;
    if (!id || strlen(id) != CON_AUTH_ID_HEX)
        return false;
    time_t now = time(NULL);
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < CON_AUTH_MAX_SESSIONS; i++)
        if (a->s[i].expires > now && con_auth_equal(a->s[i].id, id))
            ok = true;
    pthread_mutex_unlock(&a->lock);
    return ok;
}

void con_auth_session_end(con_auth *a, const char *id)
{
    if (!id)
        return;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < CON_AUTH_MAX_SESSIONS; i++)
        if (a->s[i].expires && con_auth_equal(a->s[i].id, id))
            memset(&a->s[i], 0, sizeof a->s[i]);
    pthread_mutex_unlock(&a->lock);
}

bool con_auth_bearer_ok(con_auth *a, const char *authorization)
{
    if (!a->token[0] || !authorization || strncmp(authorization, "Bearer ", 7) != 0)
        return false;
    return con_auth_equal(authorization + 7, a->token);
}
