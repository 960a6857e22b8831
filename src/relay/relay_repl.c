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
    const char *keys[5], *vals[5];
    int n = 0;
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
    return c;
}

/* Runs a parameterised query and checks its shape, pg_recvlogical style. */
static PGresult *query(PGconn *c, const char *sql, int nparams, const char *const *params,
                       ExecStatusType want, int min_rows, int max_rows, int nfields, char *err,
                       size_t errlen)
{
    /* A replication connection speaks the simple query protocol only. */
    PGresult *r =
        nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    if (PQresultStatus(r) != want) {
        snprintf(err, errlen, "%.60s...: %s", sql, PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    if (want == PGRES_TUPLES_OK &&
        (PQntuples(r) < min_rows || PQntuples(r) > max_rows || PQnfields(r) != nfields)) {
        snprintf(err, errlen,
                 "%.60s...: got %d rows and %d fields, expected %d..%d rows and %d fields", sql,
                 PQntuples(r), PQnfields(r), min_rows, max_rows, nfields);
        PQclear(r);
        return NULL;
    }
    return r;
}

int relay_slot_inspect(PGconn *c, const char *slot, relay_slot_info *info, char *err, size_t errlen)
{
    const char *p[] = {slot};
    memset(info, 0, sizeof *info);
    PGresult *r = query(c,
                        "SELECT plugin, slot_type, database = current_database(), "
                        "coalesce(wal_status, ''), coalesce(confirmed_flush_lsn::text, ''), "
                        "coalesce(restart_lsn::text, ''), coalesce(active_pid, 0) "
                        "FROM pg_replication_slots WHERE slot_name = $1",
                        1, p, PGRES_TUPLES_OK, 0, 1, 7, err, errlen);
    if (!r)
        return -1;
    int rc = 0;
    if (PQntuples(r) == 0) {
        info->state = RELAY_SLOT_MISSING;
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 1), "logical") != 0 ||
        strcmp(PQgetvalue(r, 0, 0), "pgoutput") != 0 || strcmp(PQgetvalue(r, 0, 2), "t") != 0) {
        snprintf(err, errlen,
                 "slot \"%s\" exists but is not a pgoutput logical slot of this database", slot);
        rc = -1;
        goto out;
    }
    snprintf(info->wal_status, sizeof info->wal_status, "%s", PQgetvalue(r, 0, 3));
    info->active_pid = atoi(PQgetvalue(r, 0, 6));
    relay_lsn_parse(PQgetvalue(r, 0, 4), &info->confirmed_flush);
    bool no_restart = relay_lsn_parse(PQgetvalue(r, 0, 5), &info->restart_lsn) < 0;
    /* A lost slot, or one invalidated (restart_lsn NULL), can never stream again. */
    info->state =
        (strcmp(info->wal_status, "lost") == 0 || no_restart) ? RELAY_SLOT_LOST : RELAY_SLOT_OK;
out:
    PQclear(r);
    return rc;
}

int relay_slot_drop(PGconn *c, const char *slot, char *err, size_t errlen)
{
    const char *p[] = {slot};
    PGresult *r = query(c, "SELECT pg_drop_replication_slot($1)", 1, p, PGRES_TUPLES_OK, 1, 1, 1,
                        err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

static int publication_has_table(PGconn *c, const char *pub, const char *table, bool *exists,
                                 bool *has, char *err, size_t errlen)
{
    const char *p[] = {pub, table};
    PGresult *r =
        query(c,
              "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1), "
              "EXISTS (SELECT 1 FROM pg_publication_tables t JOIN pg_class c ON c.oid = "
              "$2::regclass JOIN pg_namespace n ON n.oid = c.relnamespace WHERE t.pubname = $1 "
              "AND t.schemaname = n.nspname AND t.tablename = c.relname)",
              2, p, PGRES_TUPLES_OK, 1, 1, 2, err, errlen);
    if (!r)
        return -1;
    *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    *has = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    return 0;
}

/* Deletes and key changes need the old key: REPLICA IDENTITY DEFAULT with a
 * primary key, USING INDEX, or FULL. */
static int check_identity(PGconn *c, const char *table, char *err, size_t errlen)
{
    const char *p[] = {table};
    PGresult *r = query(c,
                        "SELECT relreplident, EXISTS (SELECT 1 FROM pg_index WHERE indrelid = "
                        "c.oid AND indisprimary) FROM pg_class c WHERE c.oid = $1::regclass",
                        1, p, PGRES_TUPLES_OK, 1, 1, 2, err, errlen);
    if (!r)
        return -1;
    char ident = PQgetvalue(r, 0, 0)[0];
    bool pk = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    if (ident == 'n' || (ident == 'd' && !pk)) {
        snprintf(err, errlen,
                 "table %s has no usable replica identity (needs a primary key, REPLICA IDENTITY "
                 "USING INDEX or FULL): deletes could not carry their key",
                 table);
        return -1;
    }
    return 0;
}

int relay_publication_ensure(PGconn *c, const char *pub, const char *table, char *err,
                             size_t errlen)
{
    bool exists, has;
    if (check_identity(c, table, err, errlen) < 0 ||
        publication_has_table(c, pub, table, &exists, &has, err, errlen) < 0)
        return -1;
    if (!exists) {
        char *pq = PQescapeIdentifier(c, pub, strlen(pub));
        char sql[1024];
        snprintf(sql, sizeof sql, "CREATE PUBLICATION %s FOR TABLE %s", pq ? pq : "", table);
        PQfreemem(pq);
        PGresult *r = query(c, sql, 0, NULL, PGRES_COMMAND_OK, 0, 0, 0, err, errlen);
        if (!r)
            return -1;
        PQclear(r);
        has = true;
    }
    if (!has) {
        snprintf(err, errlen, "publication \"%s\" exists but does not publish %s", pub, table);
        return -1;
    }
    return 0;
}

int relay_snapshot_done_get(PGconn *c, const char *slot, bool *done, char *err, size_t errlen)
{
    const char *p[] = {slot};
    PGresult *r =
        query(c, "SELECT snapshot_done_at IS NULL FROM ops.relay_slots WHERE slot_name = $1", 1, p,
              PGRES_TUPLES_OK, 0, 1, 1, err, errlen);
    if (!r)
        return -1;
    /* Only a row marked pending says a snapshot of ours did not finish; a
     * slot without a row (created by someone else, or with --snapshot never)
     * is resumed as it is. */
    *done = !(PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0);
    PQclear(r);
    return 0;
}

int relay_snapshot_pending_set(PGconn *c, const char *slot, char *err, size_t errlen)
{
    const char *p[] = {slot};
    PGresult *r = query(c,
                        "INSERT INTO ops.relay_slots (slot_name, consistent_lsn, snapshot_done_at) "
                        "VALUES ($1, '0/0', NULL) ON CONFLICT (slot_name) DO UPDATE SET "
                        "consistent_lsn = '0/0', snapshot_done_at = NULL",
                        1, p, PGRES_COMMAND_OK, 0, 0, 0, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

int relay_snapshot_done_set(PGconn *c, const char *slot, uint64_t lsn, char *err, size_t errlen)
{
    char l[32];
    snprintf(l, sizeof l, RELAY_LSN_FMT, RELAY_LSN_ARGS(lsn));
    const char *p[] = {slot, l};
    PGresult *r = query(c,
                        "INSERT INTO ops.relay_slots (slot_name, consistent_lsn, snapshot_done_at) "
                        "VALUES ($1, $2::pg_lsn, now()) ON CONFLICT (slot_name) DO UPDATE SET "
                        "consistent_lsn = EXCLUDED.consistent_lsn, snapshot_done_at = now()",
                        2, p, PGRES_COMMAND_OK, 0, 0, 0, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

int relay_slot_create(PGconn *repl, const char *slot, uint64_t *consistent_lsn, char *snapshot,
                      size_t snaplen, char *err, size_t errlen)
{
    char sql[512];
    char *q = PQescapeIdentifier(repl, slot, strlen(slot));
    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput EXPORT_SNAPSHOT",
             q ? q : "");
    PQfreemem(q);
    PGresult *r = query(repl, sql, 0, NULL, PGRES_TUPLES_OK, 1, 1, 4, err, errlen);
    if (!r)
        return -1;
    int rc = relay_lsn_parse(PQgetvalue(r, 0, 1), consistent_lsn);
    if (rc < 0)
        snprintf(err, errlen, "CREATE_REPLICATION_SLOT: bad consistent point \"%s\"",
                 PQgetvalue(r, 0, 1));
    snprintf(snapshot, snaplen, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return rc;
}

int relay_repl_start(PGconn *repl, const char *slot, const char *pub, int proto, char *err,
                     size_t errlen)
{
    char sql[1024];
    char *q = PQescapeIdentifier(repl, slot, strlen(slot));
    char *pl = PQescapeLiteral(repl, pub, strlen(pub));
    snprintf(sql, sizeof sql,
             "START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '%d', publication_names %s%s)",
             q ? q : "", proto, pl ? pl : "''", proto >= 2 ? ", streaming 'on'" : "");
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
