/* relay_repl: see relay_repl.h. */
#include "relay_repl.h"

#include "relay_wire.h"
#include "us_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PGconn *relay_pg_connect(const char *conninfo, bool replication, char *err, size_t errlen)
{
    /* expand_dbname: conninfo is a whole connection string; the pairs after
     * it override it, so the text formats the relay parses are fixed. */
    const char *keys[11], *vals[11];
    int n = 0;
    /* TCP keepalives and a user timeout, so a dead peer or a silent
     * partition breaks the socket in about a minute, not after the kernel's
     * ~15 minutes of retransmissions. Before dbname: a conninfo may override. */
    keys[n] = "keepalives", vals[n++] = "1";
    keys[n] = "keepalives_idle", vals[n++] = "10";
    keys[n] = "keepalives_interval", vals[n++] = "5";
    keys[n] = "keepalives_count", vals[n++] = "3";
    keys[n] = "tcp_user_timeout", vals[n++] = "60000";
    keys[n] = "connect_timeout", vals[n++] = "10";
    keys[n] = "dbname", vals[n++] = conninfo;
    if (replication)
        keys[n] = "replication", vals[n++] = "database";
    keys[n] = "options", vals[n++] = RELAY_PG_OPTIONS;
    keys[n] = "fallback_application_name", vals[n++] = "userstream-relay";
    keys[n] = NULL, vals[n] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "connecting to PostgreSQL%s: %s", replication ? " (replication)" : "",
                 c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    /* Server messages without DETAIL/CONTEXT: those can carry row values (PII). */
    PQsetErrorVerbosity(c, PQERRORS_TERSE);
    return c;
}

int relay_repl_start(PGconn *repl, const char *slot, const char *pub, int proto, char *err,
                     size_t errlen)
{
    char sql[1024];
    char *q = PQescapeIdentifier(repl, slot, strlen(slot));
    char *pl = PQescapeLiteral(repl, pub, strlen(pub));
    /* messages: logical decoding messages, which mark staging purges and
     * forgotten users (relay_emit_message); pgoutput has it from PG 14. */
    bool messages = PQserverVersion(repl) >= 140000;
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '%d', publication_names %s%s%s)",
             q ? q : "", proto, pl ? pl : "''", proto >= 2 ? ", streaming 'on'" : "",
             messages ? ", messages 'true'" : "");
    PQfreemem(q);
    PQfreemem(pl);
    PGresult *r = PQexec(repl, sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        snprintf(err, errlen, "START_REPLICATION: %s", PQerrorMessage(repl));
        rc = -1;
    }
    PQclear(r);
    return rc;
}

int relay_frame_parse(const uint8_t *buf, size_t len, relay_frame *f, char *err, size_t errlen)
{
    relay_cursor c;
    relay_cursor_init(&c, buf, len);
    memset(f, 0, sizeof *f);
    f->kind = (char)relay_read_u8(&c);
    if (f->kind == 'w') {
        f->start_lsn = relay_read_u64(&c);
        f->wal_end = relay_read_u64(&c);
        f->send_time = (int64_t)relay_read_u64(&c);
        f->payload = c.p;
        f->payload_len = relay_cursor_left(&c);
    } else if (f->kind == 'k') {
        f->wal_end = relay_read_u64(&c);
        f->send_time = (int64_t)relay_read_u64(&c);
        f->reply_requested = relay_read_u8(&c) != 0;
        if (!c.bad && relay_cursor_left(&c) != 0)
            c.bad = true;
    } else {
        snprintf(err, errlen, "unknown replication frame 0x%02x", len ? buf[0] : 0);
        return -1;
    }
    if (c.bad) {
        snprintf(err, errlen, "malformed '%c' frame of %zu bytes", f->kind, len);
        return -1;
    }
    return 0;
}

int relay_repl_feedback(PGconn *repl, uint64_t written, uint64_t flushed, bool reply, char *err,
                        size_t errlen)
{
    uint8_t b[1 + 8 * 4 + 1];
    b[0] = 'r';
    relay_put_u64(b + 1, written);
    relay_put_u64(b + 9, flushed);
    relay_put_u64(b + 17, flushed);
    relay_put_u64(b + 25, (uint64_t)relay_unix_to_pg_us((int64_t)us_wall_us()));
    b[33] = reply ? 1 : 0;
    if (PQputCopyData(repl, (const char *)b, sizeof b) <= 0 || PQflush(repl) < 0) {
        snprintf(err, errlen, "sending feedback: %s", PQerrorMessage(repl));
        return -1;
    }
    return 0;
}

void relay_repl_finish(PGconn *repl)
{
    char *buf;
    if (PQputCopyEnd(repl, NULL) <= 0 || PQflush(repl) < 0)
        return;
    for (int i = 0; i < 100000; i++) {
        int n = PQgetCopyData(repl, &buf, 0);
        if (n >= 0) {
            PQfreemem(buf);
            continue;
        }
        break;
    }
    PGresult *r;
    while ((r = PQgetResult(repl)) != NULL)
        PQclear(r);
}
