/* relay_stream: where relay_loop gets the replication stream from and
 * sends its standby status updates to. The relay streams from PostgreSQL
 * (relay_stream_pq); the unit tests drive the same loop from recorded
 * frames, in process.
 *
 * A stream hands out the CopyData frames of the server as they are ('w'
 * XLogData, 'k' keepalive; relay_frame_parse reads them) and takes status
 * updates ('r'). The loop parses, decides and keeps the watermark; the
 * stream only moves bytes. */
#ifndef RELAY_STREAM_H
#define RELAY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What relay_stream_next found. */
enum {
    RELAY_STREAM_FRAME = 1, /* a frame: *frame, *len valid until the next call */
    RELAY_STREAM_NONE = 0,  /* nothing yet: wait (relay_stream_wait) and ask again */
    RELAY_STREAM_END = -1,  /* the stream ended or the connection broke (reason in err) */
};

typedef struct relay_stream relay_stream;

typedef struct relay_stream_ops {
    int (*next)(relay_stream *s, const uint8_t **frame, size_t *len, char *err, size_t errlen);
    int (*wait)(relay_stream *s, int fd, int timeout_ms, char *err, size_t errlen);
    int (*status)(relay_stream *s, uint64_t written, uint64_t flushed, bool reply, char *err,
                  size_t errlen);
    void (*finish)(relay_stream *s);
    void (*free)(relay_stream *s);
} relay_stream_ops;

/* Each implementation starts with this (its first member). */
struct relay_stream {
    const relay_stream_ops *ops;
};

/* The next frame, without waiting: RELAY_STREAM_FRAME, _NONE or _END. */
static inline int relay_stream_next(relay_stream *s, const uint8_t **frame, size_t *len, char *err,
                                    size_t errlen)
{
    return s->ops->next(s, frame, len, err, errlen);
}

/* Waits until the stream may have a frame, fd (Kafka's event fd) is
 * readable, or timeout_ms passed, then takes in what arrived. -1 when the
 * connection is broken (reason in err). */
static inline int relay_stream_wait(relay_stream *s, int fd, int timeout_ms, char *err,
                                    size_t errlen)
{
    return s->ops->wait(s, fd, timeout_ms, err, errlen);
}

/* Standby status update: written, flushed (= applied), reply requested. */
static inline int relay_stream_status(relay_stream *s, uint64_t written, uint64_t flushed,
                                      bool reply, char *err, size_t errlen)
{
    return s->ops->status(s, written, flushed, reply, err, errlen);
}

/* Ends the stream in order (CopyDone, drain), after the last status. */
static inline void relay_stream_finish(relay_stream *s)
{
    s->ops->finish(s);
}

static inline void relay_stream_free(relay_stream *s)
{
    if (s)
        s->ops->free(s);
}

#endif
