/* relay_stream_pq: see relay_stream_pq.h. */
#include "relay_stream_pq.h"

#include "relay_repl.h"
#include "us_log.h"
#include "us_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pq_stream {
    relay_stream base;
    PGconn *repl;
    char *frame; /* the last frame handed out (libpq's buffer) */
} pq_stream;

static void release(pq_stream *p)
{
    if (p->frame)
        PQfreemem(p->frame);
    p->frame = NULL;
}

/* The COPY ended or broke: the server's reason (row values redacted). */
static void ended(pq_stream *p, char *err, size_t errlen)
{
    PGresult *r = PQgetResult(p->repl);
    char msg[512];
    us_redact_quoted(r && PQresultStatus(r) != PGRES_COMMAND_OK ? PQresultErrorMessage(r)
                                                                : PQerrorMessage(p->repl),
                     msg, sizeof msg);
    snprintf(err, errlen, "replication stream ended: %s", msg);
    PQclear(r);
}

static int pq_next(relay_stream *s, const uint8_t **frame, size_t *len, char *err, size_t errlen)
{
    pq_stream *p = (pq_stream *)s;
    release(p);
    int n = PQgetCopyData(p->repl, &p->frame, 1);
    if (n == 0)
        return RELAY_STREAM_NONE;
    if (n < 0) {
        p->frame = NULL;
        ended(p, err, errlen);
        return RELAY_STREAM_END;
    }
    *frame = (const uint8_t *)p->frame;
    *len = (size_t)n;
    return RELAY_STREAM_FRAME;
}

/* The server's socket or fd (Kafka's events), then whatever arrived. */
static int pq_wait(relay_stream *s, int fd, int timeout_ms, char *err, size_t errlen)
{
    pq_stream *p = (pq_stream *)s;
    struct pollfd pf[2] = {{.fd = PQsocket(p->repl), .events = POLLIN},
                           {.fd = fd, .events = POLLIN}};
    if (poll(pf, 2, timeout_ms) < 0 && errno != EINTR)
        us_warn("poll: %s", strerror(errno));
    if (PQconsumeInput(p->repl) == 0) {
        snprintf(err, errlen, "replication connection: %s", PQerrorMessage(p->repl));
        return -1;
    }
    return 0;
}

static int pq_status(relay_stream *s, uint64_t written, uint64_t flushed, bool reply, char *err,
                     size_t errlen)
{
    return relay_repl_feedback(((pq_stream *)s)->repl, written, flushed, reply, err, errlen);
}

static void pq_finish(relay_stream *s)
{
    pq_stream *p = (pq_stream *)s;
    release(p);
    relay_repl_finish(p->repl);
}

static void pq_free(relay_stream *s)
{
    pq_stream *p = (pq_stream *)s;
    release(p);
    free(p);
}

static const relay_stream_ops pq_ops = {pq_next, pq_wait, pq_status, pq_finish, pq_free};

relay_stream *relay_stream_pq_new(PGconn *repl)
{
    pq_stream *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->base.ops = &pq_ops;
    p->repl = repl;
    return &p->base;
}
