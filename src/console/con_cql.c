/* con_cql: see con_cql.h. */
#include "con_cql.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FRAME (1u << 20)

struct con_cql {
    int fd;
    long timeout_ms;
    uint8_t *buf;
};

/* ---- parsing: a bounded reader over one body ---- */

typedef struct rd {
    const uint8_t *p;
    size_t left;
    bool bad;
} rd;

static const uint8_t *take(rd *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint32_t get_u32(rd *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static uint16_t get_u16(rd *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static void skip_string(rd *r)
{
    take(r, get_u16(r));
}

/* An [option]: only simple types (ids 0x0001-0x0015) occur in a count. */
static void skip_option(rd *r)
{
    uint16_t id = get_u16(r);
    if (id == 0 || id > 0x0015)
        r->bad = true;
}

static int rows_header(rd *r, uint32_t *cols, char *err, size_t errlen)
{
    if (get_u32(r) != 2) {
        snprintf(err, errlen, "the result is not rows");
        return -1;
    }
    uint32_t flags = get_u32(r);
    *cols = get_u32(r);
    if (flags & 0x0002)
        take(r, get_u32(r)); /* paging state */
    if (!(flags & 0x0004)) {
        if (flags & 0x0001) {
            skip_string(r);
            skip_string(r);
        }
        for (uint32_t i = 0; i < *cols && !r->bad; i++) {
            if (!(flags & 0x0001)) {
                skip_string(r);
                skip_string(r);
            }
            skip_string(r);
            skip_option(r);
        }
    }
    if (r->bad) {
        snprintf(err, errlen, "truncated or unexpected rows metadata");
        return -1;
    }
    return 0;
}

int con_cql_parse_count(const uint8_t *body, size_t len, int64_t *out, char *err, size_t errlen)
{
    rd r = {body, len, false};
    uint32_t cols;
    if (rows_header(&r, &cols, err, errlen) < 0)
        return -1;
    uint32_t rows = get_u32(&r);
    if (r.bad || cols != 1 || rows != 1) {
        snprintf(err, errlen, "expected 1 row of 1 column, got %u rows of %u", rows, cols);
        return -1;
    }
    uint32_t n = get_u32(&r);
    const uint8_t *v = take(&r, n == 4 || n == 8 ? n : 0);
    if (r.bad || (n != 4 && n != 8)) {
        snprintf(err, errlen, "the value is not a bigint or int");
        return -1;
    }
    uint64_t x = 0;
    for (uint32_t i = 0; i < n; i++)
        x = x << 8 | v[i];
    *out = n == 8 ? (int64_t)x : (int64_t)(int32_t)(uint32_t)x;
    return 0;
}

void con_cql_parse_error(const uint8_t *body, size_t len, char *out, size_t outlen)
{
    rd r = {body, len, false};
    uint32_t code = get_u32(&r);
    uint16_t n = get_u16(&r);
    const uint8_t *m = take(&r, n);
    if (r.bad)
        snprintf(out, outlen, "malformed error frame");
    else
        snprintf(out, outlen, "code 0x%04x: %.*s", code, (int)n, (const char *)m);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

size_t con_cql_warnings_len(const uint8_t *body, size_t len)
{
    rd r = {body, len, false};
    uint16_t n = get_u16(&r);
    for (uint16_t i = 0; i < n && !r.bad; i++)
        skip_string(&r);
    return r.bad ? (size_t)-1 : len - r.left;
}

/* ---- I/O ---- */

static int wait_fd(con_cql *c, short ev, char *err, size_t errlen)
{
    struct pollfd p = {c->fd, ev, 0};
    int rc = poll(&p, 1, (int)c->timeout_ms);
    if (rc == 1)
        return 0;
    snprintf(err, errlen, "%s", rc == 0 ? "timed out" : strerror(errno));
    return -1;
}

static int io_all(con_cql *c, uint8_t *p, size_t n, bool wr, char *err, size_t errlen)
{
    while (n) {
        if (wait_fd(c, wr ? POLLOUT : POLLIN, err, errlen) < 0)
            return -1;
        ssize_t k = wr ? send(c->fd, p, n, MSG_NOSIGNAL) : recv(c->fd, p, n, 0);
        if (k <= 0) {
            snprintf(err, errlen, "%s", k == 0 ? "connection closed" : strerror(errno));
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int send_frame(con_cql *c, uint8_t op, const uint8_t *body, size_t len, char *err,
                      size_t errlen)
{
    uint8_t h[9] = {
        0x04,        0, 0, 1, op, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
        (uint8_t)len};
    return io_all(c, h, 9, true, err, errlen) < 0 ||
                   io_all(c, (uint8_t *)body, len, true, err, errlen) < 0
               ? -1
               : 0;
}

/* Reads one response frame into c->buf; returns its opcode and length. */
static int recv_frame(con_cql *c, uint8_t *op, size_t *len, char *err, size_t errlen)
{
    uint8_t h[9];
    if (io_all(c, h, 9, false, err, errlen) < 0)
        return -1;
    uint32_t n = (uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
    if (h[0] != 0x84 || n > MAX_FRAME) {
        snprintf(err, errlen, "not a CQL v4 response (version 0x%02x, length %u)", h[0], n);
        return -1;
    }
    if (io_all(c, c->buf, n, false, err, errlen) < 0)
        return -1;
    *op = h[4];
    *len = n;
    if (h[1] & 0x08) { /* warnings (e.g. an aggregate without a partition key) first */
        size_t w = con_cql_warnings_len(c->buf, n);
        if (w == (size_t)-1) {
            snprintf(err, errlen, "malformed warnings in a response");
            return -1;
        }
        memmove(c->buf, c->buf + w, n - w);
        *len = n - w;
    }
    if (*op == 0x00) {
        con_cql_parse_error(c->buf, *len, err, errlen);
        return -1;
    }
    return 0;
}

static int dial(const char *host, int port, long timeout_ms, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return -1;
    struct pollfd p = {fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (poll(&p, 1, (int)timeout_ms) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
        snprintf(err, errlen, "connect: %s", soerr ? strerror(soerr) : "timed out");
        close(fd);
        return -1;
    }
    return fd;
}

/* AUTH_RESPONSE [bytes] = [int n] "\0user\0password" (SASL PLAIN, what
 * PasswordAuthenticator takes); the answer is AUTH_SUCCESS (0x10), or an
 * ERROR (0x0100 bad credentials) that recv_frame reports. */
static int authenticate(con_cql *c, const con_cql_login *login, char *err, size_t errlen)
{
    if (!login || !login->user || !*login->user) {
        snprintf(err, errlen, "the server asks for authentication and no credentials are set");
        return -1;
    }
    size_t ul = strlen(login->user), pl = login->password ? strlen(login->password) : 0;
    if (ul + pl > 4096) {
        snprintf(err, errlen, "credentials too long");
        return -1;
    }
    uint8_t b[4 + 2 + 4096], op;
    size_t n = ul + pl + 2, len;
    b[0] = (uint8_t)(n >> 24), b[1] = (uint8_t)(n >> 16), b[2] = (uint8_t)(n >> 8),
    b[3] = (uint8_t)n;
    b[4] = 0;
    memcpy(b + 5, login->user, ul);
    b[5 + ul] = 0;
    if (pl)
        memcpy(b + 6 + ul, login->password, pl);
    int rc =
        send_frame(c, 0x0F, b, n + 4, err, errlen) < 0 || recv_frame(c, &op, &len, err, errlen) < 0
            ? -1
            : 0;
    memset(b, 0, sizeof b);
    if (rc == 0 && op != 0x10) {
        snprintf(err, errlen, "unexpected answer 0x%02x to AUTH_RESPONSE", op);
        rc = -1;
    }
    return rc;
}

con_cql *con_cql_connect(const char *host, int port, const con_cql_login *login, long timeout_ms,
                         char *err, size_t errlen)
{
    static const uint8_t startup[] = {0,   1,   0,   11,  'C', 'Q', 'L', '_', 'V', 'E', 'R',
                                      'S', 'I', 'O', 'N', 0,   5,   '3', '.', '0', '.', '0'};
    con_cql *c = calloc(1, sizeof *c);
    if (!c || !(c->buf = malloc(MAX_FRAME))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->timeout_ms = timeout_ms;
    uint8_t op;
    size_t len;
    if ((c->fd = dial(host, port, timeout_ms, err, errlen)) < 0 ||
        send_frame(c, 0x01, startup, sizeof startup, err, errlen) < 0 ||
        recv_frame(c, &op, &len, err, errlen) < 0 ||
        (op == 0x03 && authenticate(c, login, err, errlen) < 0)) {
        con_cql_close(c);
        return NULL;
    }
    if (op != 0x02 && op != 0x03) {
        snprintf(err, errlen, "unexpected answer 0x%02x to STARTUP", op);
        con_cql_close(c);
        return NULL;
    }
    return c;
}

void con_cql_close(con_cql *c)
{
    if (!c)
        return;
    if (c->fd > 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

int con_cql_ping(con_cql *c, char *err, size_t errlen)
{
    uint8_t op;
    size_t len;
    if (send_frame(c, 0x05, NULL, 0, err, errlen) < 0 || recv_frame(c, &op, &len, err, errlen) < 0)
        return -1;
    if (op != 0x06) {
        snprintf(err, errlen, "unexpected answer 0x%02x to OPTIONS", op);
        return -1;
    }
    return 0;
}

int con_cql_query_count(con_cql *c, const char *cql, int64_t *out, char *err, size_t errlen)
{
    size_t n = strlen(cql);
    if (n > 60000) {
        snprintf(err, errlen, "query too long");
        return -1;
    }
    uint8_t *b = malloc(n + 7);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b[0] = (uint8_t)(n >> 24), b[1] = (uint8_t)(n >> 16), b[2] = (uint8_t)(n >> 8),
    b[3] = (uint8_t)n;
    memcpy(b + 4, cql, n);
    b[n + 4] = 0, b[n + 5] = 1, b[n + 6] = 0; /* consistency ONE, no flags */
    uint8_t op;
    size_t len;
    int rc =
        send_frame(c, 0x07, b, n + 7, err, errlen) < 0 || recv_frame(c, &op, &len, err, errlen) < 0
            ? -1
            : 0;
    free(b);
    if (rc < 0)
        return -1;
    if (op != 0x08) {
        snprintf(err, errlen, "unexpected answer 0x%02x to QUERY", op);
        return -1;
    }
    return con_cql_parse_count(c->buf, len, out, err, errlen);
}
