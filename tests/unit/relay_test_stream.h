/* relay_test_stream: a relay_stream that plays a script, for driving
 * relay_loop in process (test_relay_loop.c). The script is a list of steps:
 * frames handed out as the server would send them (XLogData wrapping a
 * recorded pgoutput message, keepalives, raw bytes), actions run between two
 * frames (a broker goes down, ...), "until flushed" steps that answer
 * "nothing yet" until the loop has reported a flushed position, and a stop.
 *
 * Every standby status update the loop sends is recorded with the step it
 * followed and the phase the script was in, so a test can check each one
 * afterwards. Nothing here depends on time: a step that waits counts its
 * turns and fails the stream (RELAY_STREAM_END) after too many. */
#ifndef RELAY_TEST_STREAM_H
#define RELAY_TEST_STREAM_H

#include "relay_stream.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rts_status {
    uint64_t written, flushed;
    bool reply;   /* the loop asked the server for a reply */
    size_t after; /* index of the last step handed out before it */
    int phase;    /* the script's phase then */
} rts_status;

typedef struct rts rts;
typedef void (*rts_action)(rts *s, void *ud);

struct rts {
    relay_stream base;
    struct rts_step *steps;
    size_t n, cap, at;
    size_t last; /* the last step handed out */
    rts_status *st;
    size_t nst, capst;
    int phase;
    bool reply_pending; /* a keepalive asked for a reply, none sent yet */
    int unanswered;     /* keepalives whose reply did not come before the next read */
    bool finished;      /* relay_stream_finish was called */
    int spins;          /* turns of the current "until" step */
    volatile sig_atomic_t *stop;
    void *ud; /* for actions */
};

void rts_init(rts *s, volatile sig_atomic_t *stop, void *ud);
void rts_free(rts *s);
/* An XLogData frame: start LSN, server WAL end, the payload as is. */
void rts_xlog(rts *s, uint64_t start, uint64_t wal_end, const uint8_t *payload, size_t len);
/* A primary keepalive: server WAL end, reply requested. */
void rts_keepalive(rts *s, uint64_t wal_end, bool reply);
/* A frame of any bytes (malformed ones included). */
void rts_raw(rts *s, const uint8_t *bytes, size_t len);
void rts_action_add(rts *s, rts_action fn);
/* Answers RELAY_STREAM_NONE until a status reported flushed >= lsn. */
void rts_until_flushed(rts *s, uint64_t lsn);
/* Sets *stop (the signal flag) and answers RELAY_STREAM_NONE. */
void rts_stop(rts *s);
/* The stream ends (RELAY_STREAM_END) with this reason. */
void rts_end(rts *s, const char *reason);

/* The last flushed position reported, 0 before any. */
uint64_t rts_flushed(const rts *s);

#endif
