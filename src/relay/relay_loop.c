/* relay_loop: see relay_loop.h. */
#include "relay_loop.h"

#include "relay_repl.h"
#include "relay_stream.h"
#include "relay_wire.h"
#include "us_log.h"
#include "us_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct relay_loop {
    relay_loop_opts o;
    relay_stream *stream; /* NULL until relay_loop_run (the snapshot) */
    relay_kafka *k;
    relay_ring *ring;
    relay_spool *spool;
    relay_stats *st;
    relay_emit *e;
    volatile sig_atomic_t *stop;
    relay_pgoutput_decoder *dec;  /* the live stream */
    relay_pgoutput_decoder *rdec; /* replay of spooled streamed transactions */
    uint64_t received;            /* highest WAL position received */
    uint64_t flushed;             /* the watermark: safe to confirm */
    uint64_t reported;            /* last flushed position sent */
    uint64_t wal_end;
    uint32_t stream_xid;
    uint64_t last_status_ns, last_heartbeat_ns, last_tick_ns;
    uint64_t last_recv_ns; /* the last message of any kind from the server */
    bool done;             /* a deterministic stop was reached */
    bool pg_dead;
    int exit_code;
    char err[1024];
};

relay_loop *relay_loop_new(const relay_loop_opts *o, relay_emit *e, relay_kafka *k,
                           relay_ring *ring, relay_spool *spool, relay_stats *st,
                           volatile sig_atomic_t *stop)
{
    relay_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    *l =
        (relay_loop){.o = *o, .e = e, .k = k, .ring = ring, .spool = spool, .st = st, .stop = stop};
    l->dec = relay_pgoutput_decoder_new();
    l->rdec = relay_pgoutput_decoder_new();
    if (!l->dec || !l->rdec) {
        relay_loop_free(l);
        return NULL;
    }
    relay_pgoutput_decoder_set_streaming(l->rdec, true);
    return l;
}

void relay_loop_free(relay_loop *l)
{
    if (!l)
        return;
    relay_pgoutput_decoder_free(l->dec);
    relay_pgoutput_decoder_free(l->rdec);
    free(l);
}

void relay_loop_set_flushed(relay_loop *l, uint64_t lsn)
{
    if (lsn > l->flushed)
        l->flushed = lsn;
    l->reported = l->flushed;
}

static bool idle(const relay_loop *l)
{
    return relay_ring_count(l->ring) == 0 && !relay_emit_in_txn(l->e);
}

static void update_stats(relay_loop *l)
{
    size_t left = relay_ring_advance(l->ring, &l->flushed);
    if (left)
        RELAY_STAT_ADD(l->st, txns_total, left);
    RELAY_STAT_SET(l->st, inflight_txns, relay_ring_count(l->ring));
    RELAY_STAT_SET(l->st, inflight_msgs, (uint64_t)relay_kafka_outq(l->k));
    RELAY_STAT_SET(l->st, wal_end_lsn, l->wal_end);
    RELAY_STAT_SET(l->st, flushed_lsn, l->reported);
    RELAY_STAT_SET(l->st, slot_lag_bytes, l->wal_end > l->reported ? l->wal_end - l->reported : 0);
}

/* Sends a status update: written = received, flushed = applied = watermark. */
static int send_status(relay_loop *l, bool reply)
{
    if (l->pg_dead)
        return -1;
    uint64_t now = us_mono_ns();
    uint64_t written = l->received > l->flushed ? l->received : l->flushed;
    if (relay_stream_status(l->stream, written, l->flushed, reply, l->err, sizeof l->err) < 0) {
        l->pg_dead = true;
        return -1;
    }
    if (l->flushed != l->reported)
        us_debug("confirmed " RELAY_LSN_FMT, RELAY_LSN_ARGS(l->flushed));
    l->reported = l->flushed;
    l->last_status_ns = now;
    if (reply)
        l->last_heartbeat_ns = now;
    update_stats(l);
    return 0;
}

/* Delivery reports, the watermark, and whatever status update is due. */
static int service(relay_loop *l, int timeout_ms)
{
    uint64_t now = us_mono_ns();
    relay_kafka_poll(l->k, timeout_ms, relay_emit_on_delivery, l->e);
    update_stats(l);
    if (now - l->last_tick_ns >= 1000000000ULL) {
        relay_stats_tick(l->st, now);
        l->last_tick_ns = now;
    }
    if (!l->stream)
        return 0; /* the snapshot: no stream to answer yet */
    uint64_t since = now - l->last_status_ns;
    if ((l->flushed != l->reported && since >= (uint64_t)l->o.feedback_ms * 1000000ULL) ||
        since >= (uint64_t)l->o.status_interval_ms * 1000000ULL)
        return send_status(l, false);
    if (l->o.heartbeat_ms > 0 && idle(l) &&
        now - l->last_heartbeat_ns >= (uint64_t)l->o.heartbeat_ms * 1000000ULL)
        return send_status(l, true);
    /* Quiet for half the receive timeout: ask for a keepalive, so a live
     * server always answers well before the timeout. */
    uint64_t half = (uint64_t)l->o.receive_timeout_ms * 500000ULL;
    if (l->o.receive_timeout_ms > 0 && now - l->last_recv_ns >= half &&
        now - l->last_heartbeat_ns >= half / 2)
        return send_status(l, true);
    return 0;
}

const char *relay_loop_last_error(const relay_loop *l)
{
    return l->err;
}

void relay_loop_set_receive_timeout(relay_loop *l, long ms)
{
    l->o.receive_timeout_ms = ms;
}

/* True (with the reason in l->err) when nothing came from the server for the
 * receive timeout: a silent partition or a dead host, which TCP alone would
 * notice only after many minutes. */
static bool receive_timed_out(relay_loop *l)
{
    if (l->o.receive_timeout_ms <= 0 ||
        us_mono_ns() - l->last_recv_ns < (uint64_t)l->o.receive_timeout_ms * 1000000ULL)
        return false;
    snprintf(l->err, sizeof l->err,
             "no message from PostgreSQL for %ld ms (receive timeout, 2 x wal_sender_timeout by "
             "default): "
             "the connection counts as lost; exiting to reconnect from the slot",
             l->o.receive_timeout_ms);
    return true;
}

static bool must_stop(relay_loop *l)
{
    char e[512];
    if (*l->stop)
        return true;
    if (relay_kafka_fatal(l->k, e, sizeof e)) {
        snprintf(l->err, sizeof l->err, "%s", e);
        l->exit_code = RELAY_EXIT_KAFKA;
        return true;
    }
    if (relay_kafka_too_large(l->k, e, sizeof e)) {
        snprintf(l->err, sizeof l->err, "%s", e);
        l->exit_code = RELAY_EXIT_TOO_LARGE;
        return true;
    }
    if (relay_ring_failed(l->ring)) {
        snprintf(l->err, sizeof l->err,
                 "a Kafka delivery failed; the slot stays before it and a "
                 "restart re-sends from there");
        l->exit_code = RELAY_EXIT_KAFKA;
        return true;
    }
    return false;
}

int relay_loop_wait(relay_loop *l, int timeout_ms)
{
    RELAY_STAT_SET(l->st, state, RELAY_STATE_BACKPRESSURE);
    if (must_stop(l))
        return -1;
    return service(l, timeout_ms) < 0 ? -1 : 0;
}

bool relay_loop_retry(relay_loop *l, int *rc)
{
    if (*rc != RELAY_EMIT_FULL && *rc != RELAY_EMIT_RETRY)
        return false;
    if (relay_loop_wait(l, relay_emit_retry_ms(*rc)) < 0) {
        *rc = RELAY_EMIT_STOP;
        return false;
    }
    return true;
}

/* One decoded message to the emitter (the types it takes), once. */
static int emit_once(relay_loop *l, const relay_pgoutput_msg *m, char *err, size_t errlen)
{
    switch (m->type) {
    case RELAY_PGOUTPUT_BEGIN:
        return relay_emit_begin(l->e, m->u.begin.final_lsn, m->u.begin.commit_ts, m->u.begin.xid,
                                err, errlen);
    case RELAY_PGOUTPUT_COMMIT:
        return relay_emit_commit(l->e, m->u.commit.commit_lsn, m->u.commit.end_lsn, err, errlen);
    case RELAY_PGOUTPUT_RELATION:
        return relay_emit_relation(l->e, m->u.relation, err, errlen);
    case RELAY_PGOUTPUT_INSERT:
    case RELAY_PGOUTPUT_UPDATE:
    case RELAY_PGOUTPUT_DELETE:
    case RELAY_PGOUTPUT_TRUNCATE:
        return relay_emit_change(l->e, m, err, errlen);
    case RELAY_PGOUTPUT_MESSAGE:
        return relay_emit_message(l->e, m, err, errlen);
    default:
        return RELAY_EMIT_OK;
    }
}

/* The same, repeated while Kafka's queue or the ring is full (or the
 * registry unreachable): back-pressure, the stream is not read meanwhile. */
static int emit(relay_loop *l, const relay_pgoutput_msg *m, char *err, size_t errlen)
{
    int rc;
    do
        rc = emit_once(l, m, err, errlen);
    while (relay_loop_retry(l, &rc));
    if (rc == RELAY_EMIT_STOP && m->type == RELAY_PGOUTPUT_RELATION)
        relay_pgoutput_relation_free(m->u.relation); /* not taken: stopped before a retry */
    return rc;
}

static int emit_rc_to_exit(relay_loop *l, int rc)
{
    switch (rc) {
    case RELAY_EMIT_STOP:
        return l->exit_code ? l->exit_code : RELAY_EXIT_OK;
    case RELAY_EMIT_INCOMPATIBLE:
        return RELAY_EXIT_INCOMPATIBLE;
    case RELAY_EMIT_REJECTED:
        return RELAY_EXIT_REGISTRY;
    case RELAY_EMIT_TOO_LARGE:
        return RELAY_EXIT_TOO_LARGE;
    default:
        return RELAY_EXIT_ERROR;
    }
}

/* One spooled message of a committed streamed transaction. */
static int replay_one(void *ud, const uint8_t *msg, size_t len, char *err, size_t errlen)
{
    relay_loop *l = ud;
    relay_pgoutput_msg m;
    size_t used;
    if (relay_pgoutput_decode(l->rdec, msg, len, &m, &used, err, errlen) < 0)
        return RELAY_EMIT_ERROR;
    if (m.type == RELAY_PGOUTPUT_RELATION || m.type == RELAY_PGOUTPUT_INSERT ||
        m.type == RELAY_PGOUTPUT_UPDATE || m.type == RELAY_PGOUTPUT_DELETE ||
        m.type == RELAY_PGOUTPUT_TRUNCATE || m.type == RELAY_PGOUTPUT_MESSAGE)
        return emit(l, &m, err, errlen);
    return RELAY_EMIT_OK; /* Type carries nothing for Kafka */
}

static int stream_commit(relay_loop *l, const relay_pgoutput_msg *m)
{
    int rc;
    do
        rc = relay_emit_begin(l->e, m->u.stream_commit.commit_lsn, m->u.stream_commit.commit_ts,
                              m->u.stream_commit.xid, l->err, sizeof l->err);
    while (relay_loop_retry(l, &rc));
    if (rc == RELAY_EMIT_OK)
        rc = relay_spool_replay(l->spool, m->u.stream_commit.xid, replay_one, l, l->err,
                                sizeof l->err);
    if (rc == RELAY_EMIT_OK)
        rc = relay_emit_commit(l->e, m->u.stream_commit.commit_lsn, m->u.stream_commit.end_lsn,
                               l->err, sizeof l->err);
    return rc;
}

/* A deterministic stop is checked after each whole transaction. */
static void check_stop_after_commit(relay_loop *l, uint64_t end_lsn)
{
    if ((l->o.max_rows && relay_emit_rows(l->e) >= l->o.max_rows) ||
        (l->o.end_lsn && end_lsn >= l->o.end_lsn))
        l->done = true;
}

static int dispatch(relay_loop *l, const uint8_t *payload, size_t len)
{
    relay_pgoutput_msg m;
    size_t used;
    if (relay_pgoutput_decode(l->dec, payload, len, &m, &used, l->err, sizeof l->err) < 0)
        return RELAY_EMIT_ERROR;
    if (used != len) {
        if (m.type == RELAY_PGOUTPUT_RELATION)
            relay_pgoutput_relation_free(m.u.relation);
        snprintf(l->err, sizeof l->err, "'%c' message: %zu trailing bytes", m.type, len - used);
        return RELAY_EMIT_ERROR;
    }
    if (m.has_xid) { /* inside a stream block: keep it until its Stream Commit */
        if (m.type == RELAY_PGOUTPUT_RELATION)
            relay_pgoutput_relation_free(m.u.relation);
        return relay_spool_append(l->spool, l->stream_xid, m.xid, payload, len, l->err,
                                  sizeof l->err);
    }
    switch (m.type) {
    case RELAY_PGOUTPUT_COMMIT: {
        int rc = emit(l, &m, l->err, sizeof l->err);
        check_stop_after_commit(l, m.u.commit.end_lsn);
        return rc;
    }
    case RELAY_PGOUTPUT_BEGIN:
    case RELAY_PGOUTPUT_RELATION:
    case RELAY_PGOUTPUT_INSERT:
    case RELAY_PGOUTPUT_UPDATE:
    case RELAY_PGOUTPUT_DELETE:
    case RELAY_PGOUTPUT_TRUNCATE:
    case RELAY_PGOUTPUT_MESSAGE:
        return emit(l, &m, l->err, sizeof l->err);
    case RELAY_PGOUTPUT_STREAM_START:
        l->stream_xid = m.u.stream_start.xid;
        return RELAY_EMIT_OK;
    case RELAY_PGOUTPUT_STREAM_COMMIT: {
        int rc = stream_commit(l, &m);
        check_stop_after_commit(l, m.u.stream_commit.end_lsn);
        return rc;
    }
    case RELAY_PGOUTPUT_STREAM_ABORT:
        return relay_spool_abort(l->spool, m.u.stream_abort.xid, m.u.stream_abort.subxid, l->err,
                                 sizeof l->err);
    default:
        return RELAY_EMIT_OK; /* Origin, Type, Stream Stop */
    }
}

static int on_frame(relay_loop *l, const uint8_t *buf, size_t len)
{
    relay_frame f;
    if (relay_frame_parse(buf, len, &f, l->err, sizeof l->err) < 0)
        return RELAY_EMIT_ERROR;
    if (f.wal_end > l->wal_end)
        l->wal_end = f.wal_end;
    if (f.kind == 'k') {
        /* Nothing in flight and no open transaction: everything up to the
         * server's WAL end that concerns us is in Kafka (the heartbeat). */
        if (l->o.heartbeat_ms > 0 && idle(l) && f.wal_end > l->flushed) {
            l->flushed = f.wal_end;
            if (l->o.end_lsn && l->flushed >= l->o.end_lsn)
                l->done = true;
        }
        return f.reply_requested && send_status(l, false) < 0 ? RELAY_EMIT_ERROR : RELAY_EMIT_OK;
    }
    if (f.start_lsn > l->received)
        l->received = f.start_lsn;
    return dispatch(l, f.payload, f.payload_len);
}

/* Waits for the stream or a Kafka event, at most until the next status
 * update is due. -1 when the connection broke (reason in l->err). */
static int wait_input(relay_loop *l)
{
    long ms = l->o.status_interval_ms;
    if (l->o.heartbeat_ms > 0 && l->o.heartbeat_ms < ms)
        ms = l->o.heartbeat_ms;
    if (l->flushed != l->reported && l->o.feedback_ms < ms)
        ms = l->o.feedback_ms;
    if (ms > 1000)
        ms = 1000;
    return relay_stream_wait(l->stream, relay_kafka_event_fd(l->k), (int)ms, l->err, sizeof l->err);
}

/* The end of a run that went wrong on the server's side. */
static int stream_lost(relay_loop *l)
{
    l->pg_dead = true;
    us_error("%s", l->err);
    return RELAY_EXIT_ERROR;
}

int relay_loop_run(relay_loop *l, relay_stream *s)
{
    int rc = RELAY_EMIT_OK;
    l->stream = s;
    l->last_status_ns = l->last_heartbeat_ns = l->last_recv_ns = us_mono_ns();
    RELAY_STAT_SET(l->st, state, RELAY_STATE_STREAMING);
    while (!l->done && !must_stop(l)) {
        const uint8_t *buf = NULL;
        size_t len = 0;
        if (service(l, 0) < 0)
            return us_error("%s", l->err), RELAY_EXIT_ERROR;
        RELAY_STAT_SET(l->st, state, RELAY_STATE_STREAMING);
        int n = relay_stream_next(s, &buf, &len, l->err, sizeof l->err);
        if (n == RELAY_STREAM_NONE) {
            if (wait_input(l) < 0 || receive_timed_out(l))
                return stream_lost(l);
            continue;
        }
        if (n != RELAY_STREAM_FRAME)
            return stream_lost(l);
        l->last_recv_ns = us_mono_ns();
        if ((rc = on_frame(l, buf, len)) != RELAY_EMIT_OK)
            break;
    }
    if (rc != RELAY_EMIT_OK) {
        int code = emit_rc_to_exit(l, rc);
        if (code != RELAY_EXIT_OK)
            us_error("%s", l->err);
        return code;
    }
    if (l->exit_code)
        us_error("%s", l->err);
    return l->exit_code;
}

void relay_loop_drain(relay_loop *l)
{
    uint64_t deadline = us_mono_ns() + (uint64_t)l->o.stop_timeout_ms * 1000000ULL;
    RELAY_STAT_SET(l->st, state, RELAY_STATE_STOPPING);
    while (relay_kafka_outq(l->k) > 0 && us_mono_ns() < deadline && !relay_ring_failed(l->ring)) {
        relay_kafka_poll(l->k, 100, relay_emit_on_delivery, l->e);
        update_stats(l);
        if (l->stream && !l->pg_dead &&
            us_mono_ns() - l->last_status_ns >= (uint64_t)l->o.status_interval_ms * 1000000ULL)
            send_status(l, false);
    }
    relay_kafka_poll(l->k, 0, relay_emit_on_delivery, l->e);
    update_stats(l);
    if (relay_kafka_outq(l->k) > 0)
        us_warn("stopping with %d records unacknowledged; the slot stays before them",
                relay_kafka_outq(l->k));
    if (l->stream && !l->pg_dead) {
        send_status(l, false);
        relay_stream_finish(l->stream);
    }
    us_info("stopped; slot confirmed at " RELAY_LSN_FMT ", %llu records produced",
            RELAY_LSN_ARGS(l->reported), (unsigned long long)RELAY_STAT_GET(l->st, rows_total));
}
