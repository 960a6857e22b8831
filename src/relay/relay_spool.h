/* relay_spool: streamed in-progress transactions (pgoutput protocol 2) kept
 * on disk until their Stream Commit, so a huge transaction never sits in
 * memory and nothing uncommitted ever reaches Kafka.
 *
 * One file per top-level transaction; each record is the raw pgoutput
 * message (its leading xid included) behind an Int32 length. A Stream Abort
 * of a subtransaction truncates the file back to that subtransaction's first
 * record (subtransactions nest, so everything after it is its own or its
 * children's); an abort of the whole transaction removes the file. */
#ifndef RELAY_SPOOL_H
#define RELAY_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct relay_spool relay_spool;

/* dir is created when missing (mode 0700, parents too) and must be a real
 * directory (not a symlink) owned by the effective user and writable by
 * nobody else, or it is refused. Files left by an earlier run are removed
 * (the slot re-sends those transactions); files are opened relative to the
 * checked directory with O_CREAT|O_EXCL|O_NOFOLLOW, so a planted file or
 * symlink is refused, never followed. */
relay_spool *relay_spool_new(const char *dir, char *err, size_t errlen);
void relay_spool_free(relay_spool *s);

/* Appends one message of top-level transaction xid, sent for (sub)transaction subxid. */
int relay_spool_append(relay_spool *s, uint32_t xid, uint32_t subxid, const uint8_t *msg,
                       size_t len, char *err, size_t errlen);
int relay_spool_abort(relay_spool *s, uint32_t xid, uint32_t subxid, char *err, size_t errlen);

/* Calls fn for every message of xid in order, then removes its file. A
 * transaction with nothing spooled calls fn zero times. */
typedef int (*relay_spool_fn)(void *ud, const uint8_t *msg, size_t len, char *err, size_t errlen);
int relay_spool_replay(relay_spool *s, uint32_t xid, relay_spool_fn fn, void *ud, char *err,
                       size_t errlen);

size_t relay_spool_open_count(const relay_spool *s);

#endif
