/* relay_test_stream: see relay_test_stream.h. */
#include "relay_test_stream.h"

#include "relay_wire.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Turns of an "until flushed" step before the stream gives up: each is at
 * most one wait of RTS_WAIT_MS for Kafka, so a stuck loop fails, not hangs. */
#define RTS_MAX_SPINS 600
#define RTS_WAIT_MS 100

enum { STEP_FRAME, STEP_ACTION, STEP_UNTIL, STEP_STOP, STEP_END };

typedef struct rts_step {
    int kind;
    uint8_t *bytes; /* STEP_FRAME: the frame; STEP_END: the reason */
    size_t len;
    uint64_t lsn;
    rts_action fn;
} rts_step;

static rts_step *add(rts *s, int kind)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->steps = realloc(s->steps, s->cap * sizeof *s->steps);
        if (!s->steps)
            abort();
    }
    rts_step *p = &s->steps[s->n++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    return p;
}

static void add_bytes(rts *s, int kind, const uint8_t *hdr, size_t hlen, const uint8_t *body,
                      size_t blen)
{
    rts_step *p = add(s, kind);
    p->len = hlen + blen;
    if (!(p->bytes = malloc(p->len + 1)))
        abort();
    memcpy(p->bytes, hdr, hlen);
    if (blen)
        memcpy(p->bytes + hlen, body, blen);
    p->bytes[p->len] = '\0';
}

void rts_xlog(rts *s, uint64_t start, uint64_t wal_end, const uint8_t *payload, size_t len)
{
    uint8_t h[25];
    h[0] = 'w';
    relay_put_u64(h + 1, start);
    relay_put_u64(h + 9, wal_end);
    relay_put_u64(h + 17, 0); /* send time */
    add_bytes(s, STEP_FRAME, h, sizeof h, payload, len);
}

void rts_keepalive(rts *s, uint64_t wal_end, bool reply)
{
    uint8_t h[18];
    h[0] = 'k';
    relay_put_u64(h + 1, wal_end);
    relay_put_u64(h + 9, 0);
    h[17] = reply ? 1 : 0;
    add_bytes(s, STEP_FRAME, h, sizeof h, NULL, 0);
}

void rts_raw(rts *s, const uint8_t *bytes, size_t len)
{
    add_bytes(s, STEP_FRAME, bytes, len, NULL, 0);
}

void rts_action_add(rts *s, rts_action fn)
{
    add(s, STEP_ACTION)->fn = fn;
}

void rts_until_flushed(rts *s, uint64_t lsn)
{
    add(s, STEP_UNTIL)->lsn = lsn;
}

void rts_stop(rts *s)
{
    add(s, STEP_STOP);
}

void rts_end(rts *s, const char *reason)
{
    add_bytes(s, STEP_END, (const uint8_t *)reason, strlen(reason), NULL, 0);
}

uint64_t rts_flushed(const rts *s)
{
    return s->nst ? s->st[s->nst - 1].flushed : 0;
}

/* An "until" step: done, or one more turn (RELAY_STREAM_NONE), or too many. */
static int until(rts *s, const rts_step *p, char *err, size_t errlen)
{
    if (s->nst && rts_flushed(s) >= p->lsn) {
        s->at++;
        s->spins = 0;
        return -2; /* go on with the next step */
    }
    if (++s->spins <= RTS_MAX_SPINS)
        return RELAY_STREAM_NONE;
    snprintf(err, errlen,
             "test stream: flushed never reached " RELAY_LSN_FMT " (last " RELAY_LSN_FMT ")",
             RELAY_LSN_ARGS(p->lsn), RELAY_LSN_ARGS(rts_flushed(s)));
    return RELAY_STREAM_END;
}

static int rts_next(relay_stream *b, const uint8_t **frame, size_t *len, char *err, size_t errlen)
{
    rts *s = (rts *)b;
    if (s->reply_pending)
        s->unanswered++;
    s->reply_pending = false;
    while (s->at < s->n) {
        rts_step *p = &s->steps[s->at];
        int rc;
        switch (p->kind) {
        case STEP_FRAME:
            *frame = p->bytes;
            *len = p->len;
            s->reply_pending = p->len == 18 && p->bytes[0] == 'k' && p->bytes[17];
            s->last = s->at++;
            return RELAY_STREAM_FRAME;
        case STEP_ACTION:
            s->at++;
            p->fn(s, s->ud);
            break;
        case STEP_UNTIL:
            if ((rc = until(s, p, err, errlen)) != -2)
                return rc;
            break;
        case STEP_STOP:
            s->at++;
            *s->stop = 1;
            return RELAY_STREAM_NONE;
        default:
            snprintf(err, errlen, "%s", (const char *)p->bytes);
            return RELAY_STREAM_END;
        }
    }
    return RELAY_STREAM_NONE;
}

/* Only Kafka can make progress while the script waits: its event fd. */
static int rts_wait(relay_stream *b, int fd, int timeout_ms, char *err, size_t errlen)
{
    (void)b, (void)err, (void)errlen;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, timeout_ms < RTS_WAIT_MS ? timeout_ms : RTS_WAIT_MS);
    return 0;
}

static int rts_status_cb(relay_stream *b, uint64_t written, uint64_t flushed, bool reply, char *err,
                         size_t errlen)
{
    rts *s = (rts *)b;
    if (s->finished) {
        snprintf(err, errlen, "test stream: status after finish");
        return -1;
    }
    if (s->nst == s->capst) {
        s->capst = s->capst ? 2 * s->capst : 64;
        if (!(s->st = realloc(s->st, s->capst * sizeof *s->st)))
            abort();
    }
    s->st[s->nst++] = (rts_status){written, flushed, reply, s->last, s->phase};
    s->reply_pending = false;
    return 0;
}

static void rts_finish(relay_stream *b)
{
    ((rts *)b)->finished = true;
}

static void rts_free_cb(relay_stream *b)
{
    (void)b; /* the test owns it: rts_free */
}

static const relay_stream_ops rts_ops = {rts_next, rts_wait, rts_status_cb, rts_finish,
                                         rts_free_cb};

void rts_init(rts *s, volatile sig_atomic_t *stop, void *ud)
{
    memset(s, 0, sizeof *s);
    s->base.ops = &rts_ops;
    s->stop = stop;
    s->ud = ud;
}

void rts_free(rts *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->steps[i].bytes);
    free(s->steps);
    free(s->st);
}
