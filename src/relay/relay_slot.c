/* relay_slot: see relay_slot.h. */
#include "relay_slot.h"

#include "relay_wire.h"
#include "us_log.h"
#include "us_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int relay_slot_inspect(PGconn *c, const char *slot, relay_slot_info *info, char *err, size_t errlen)
{
    const char *p[] = {slot};
    memset(info, 0, sizeof *info);
    PGresult *r = us_pg_query(c, "slot lookup",
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
    PGresult *r = us_pg_query(c, "dropping the slot", "SELECT pg_drop_replication_slot($1)", 1, p,
                              PGRES_TUPLES_OK, 1, 1, 1, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

#define SLOT_LOCK_KEY "hashtext('userstream-relay'), hashtext($1)"

int relay_slot_lock(PGconn *c, const char *slot, bool *held, char *err, size_t errlen)
{
    const char *p[] = {slot};
    PGresult *r =
        us_pg_query(c, "the slot's lock", "SELECT pg_try_advisory_lock(" SLOT_LOCK_KEY ")", 1, p,
                    PGRES_TUPLES_OK, 1, 1, 1, err, errlen);
    if (!r)
        return -1;
    *held = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (*held)
        return 0;
    r = us_pg_query(
        c, "who holds the slot's lock",
        "SELECT coalesce((SELECT format('PID %s, %s@%s, application %s, since %s', a.pid, "
        "a.usename, "
        "a.client_addr, a.application_name, a.backend_start) FROM pg_locks l JOIN pg_stat_activity "
        "a "
        "USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM "
        "pg_database WHERE datname = current_database()) AND l.classid = "
        "hashtext('userstream-relay')::oid "
        "AND l.objid = hashtext($1)::oid AND l.objsubid = 2 LIMIT 1), 'a session not visible to "
        "this role')",
        1, p, PGRES_TUPLES_OK, 1, 1, 1, err, errlen);
    snprintf(err, errlen,
             "another relay is running on slot \"%s\" (it holds the slot's lock: %s); refusing to "
             "start. "
             "One relay per slot: stop the other one, or give this one its own US_RELAY_SLOT",
             slot, r ? PQgetvalue(r, 0, 0) : "unknown");
    PQclear(r);
    return 0;
}

int relay_slot_lock_orphan(PGconn *c, const char *slot, int *pid, char *err, size_t errlen)
{
    const char *p[] = {slot};
    PGresult *r = us_pg_query(
        c, "an orphaned holder of the slot's lock",
        "SELECT coalesce((SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) AND l.classid = hashtext('userstream-relay')::oid "
        "AND l.objid = hashtext($1)::oid AND l.objsubid = 2 AND a.state = 'idle' "
        "AND NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active) "
        "LIMIT 1), 0)",
        1, p, PGRES_TUPLES_OK, 1, 1, 1, err, errlen);
    if (!r)
        return -1;
    *pid = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int relay_backend_terminate(PGconn *c, int pid, char *err, size_t errlen)
{
    char buf[16];
    const char *p[] = {buf};
    snprintf(buf, sizeof buf, "%d", pid);
    PGresult *r = us_pg_query(c, "ending a session", "SELECT pg_terminate_backend($1::int, 5000)",
                              1, p, PGRES_TUPLES_OK, 1, 1, 1, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

static int publication_has_table(PGconn *c, const char *pub, const char *table, bool *exists,
                                 bool *has, char *err, size_t errlen)
{
    const char *p[] = {pub, table};
    PGresult *r = us_pg_query(
        c, "the publication",
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
    PGresult *r =
        us_pg_query(c, "the table's replica identity",
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
        PGresult *r = us_pg_query(c, "creating the publication", sql, 0, NULL, PGRES_COMMAND_OK, 0,
                                  0, 0, err, errlen);
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
        us_pg_query(c, "snapshot state",
                    "SELECT snapshot_done_at IS NULL FROM ops.relay_slots WHERE slot_name = $1", 1,
                    p, PGRES_TUPLES_OK, 0, 1, 1, err, errlen);
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
    PGresult *r =
        us_pg_query(c, "marking the snapshot pending",
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
    PGresult *r =
        us_pg_query(c, "marking the snapshot done",
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
    PGresult *r = us_pg_query(repl, "CREATE_REPLICATION_SLOT", sql, 0, NULL, PGRES_TUPLES_OK, 1, 1,
                              4, err, errlen);
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

relay_slot_verdict relay_slot_acquire(PGconn *sql, const char *slot, relay_slot_wait_fn wait,
                                      char *err, size_t errlen)
{
    bool held = false;
    int orphan = 0, last = 0, streak = 0;
    for (int a = 0;; a++) {
        if (relay_slot_lock(sql, slot, &held, err, errlen) < 0)
            return RELAY_SLOT_FAILED;
        if (held)
            return RELAY_SLOT_GO;
        if (relay_slot_lock_orphan(sql, slot, &orphan, err, errlen) < 0)
            return RELAY_SLOT_FAILED;
        streak = orphan && orphan == last ? streak + 1 : orphan ? 1 : 0;
        last = orphan;
        if (a >= 3 && streak > a) { /* the same orphan on every look */
            /* Idle holder, slot unused on every look for seconds: a relay whose
             * link died silently (the server keeps its session until TCP
             * keepalives give up). Its slot is not in use, so nothing is lost. */
            us_warn("the slot's lock is held by PID %d, idle, while slot \"%s\" is not in use: a "
                    "relay that lost its connection; ending that session",
                    orphan, slot);
            if (relay_backend_terminate(sql, orphan, err, errlen) < 0)
                return RELAY_SLOT_FAILED;
        } else if (a >= 3) {
            relay_slot_lock(sql, slot, &held, err, errlen); /* err: who holds it */
            return held ? RELAY_SLOT_GO : RELAY_SLOT_BUSY;
        }
        if (a >= 5)
            return RELAY_SLOT_BUSY;
        if (wait(a) < 0)
            return RELAY_SLOT_STOPPED;
    }
}

relay_slot_verdict relay_slot_check(PGconn *sql, const char *slot, bool snapshot,
                                    relay_slot_info *info, char *err, size_t errlen)
{
    bool done = true;
    if (relay_slot_inspect(sql, slot, info, err, errlen) < 0)
        return RELAY_SLOT_FAILED;
    if (info->state == RELAY_SLOT_LOST) {
        snprintf(err, errlen,
                 "replication slot \"%s\" is lost (wal_status=%s): the WAL it needed is gone, so "
                 "changes were missed. A re-snapshot is needed: drop the slot deliberately "
                 "(pg_drop_replication_slot) and restart the relay; it is never re-created "
                 "silently",
                 slot, info->wal_status[0] ? info->wal_status : "invalidated");
        return RELAY_SLOT_IS_LOST;
    }
    if (info->state == RELAY_SLOT_OK && snapshot &&
        relay_snapshot_done_get(sql, slot, &done, err, errlen) < 0)
        return RELAY_SLOT_FAILED;
    if (info->state != RELAY_SLOT_OK || done)
        return RELAY_SLOT_GO;
    if (info->active_pid) {
        snprintf(err, errlen,
                 "slot \"%s\" has no finished snapshot and is in use by PID %d: not dropping it",
                 slot, info->active_pid);
        return RELAY_SLOT_BUSY;
    }
    /* We marked it pending, created it and died before its snapshot finished:
     * it was never confirmed past its creation, so re-creating it loses nothing. */
    us_warn("slot \"%s\" has no finished initial snapshot; re-creating it and the snapshot", slot);
    if (relay_slot_drop(sql, slot, err, errlen) < 0)
        return RELAY_SLOT_FAILED;
    info->state = RELAY_SLOT_MISSING;
    return RELAY_SLOT_GO;
}
