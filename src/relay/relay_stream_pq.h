/* relay_stream_pq: the replication stream of a PostgreSQL connection in
 * COPY BOTH mode (relay_repl_start done), as a relay_stream. Frames come
 * from PQgetCopyData without blocking; waiting is a poll on the server's
 * socket together with Kafka's event fd, so delivery reports are served
 * while the server is quiet. The connection stays the caller's. */
#ifndef RELAY_STREAM_PQ_H
#define RELAY_STREAM_PQ_H

#include "relay_stream.h"

#include <libpq-fe.h>

/* NULL when out of memory. */
relay_stream *relay_stream_pq_new(PGconn *repl);

#endif
