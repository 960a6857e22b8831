/* relay_snapshot: see relay_snapshot.h. */
#include "relay_snapshot.h"

#include "relay_wire.h"
#include "us_log.h"
#include "us_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        snprintf(err, errlen, "%.80s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return rc;
}

relay_pgoutput_relation *relay_snapshot_relation(PGconn *c, const char *table, char *err,
                                                 size_t errlen)
{
    const char *p[] = {table};
    PGresult *r = PQexecParams(
        c,
        "SELECT c.oid, n.nspname, c.relname, c.relreplident, a.attname, a.atttypid, a.atttypmod, "
        "(c.relreplident = 'f' OR a.attnum = ANY (i.indkey)) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid "
        "LEFT JOIN pg_index i ON i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) "
        "OR (c.relreplident = 'i' AND i.indisreplident)) "
        "WHERE c.oid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "AND a.attgenerated = '' "
        "ORDER BY a.attnum",
        1, NULL, p, NULL, NULL, 0);
    relay_pgoutput_relation *rel = NULL;
    int n = PQntuples(r);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || n < 1 || n > RELAY_PGOUTPUT_MAX_ATTS ||
        PQnfields(r) != 8) {
        snprintf(err, errlen, "columns of %s: %s", table,
                 PQresultStatus(r) == PGRES_TUPLES_OK ? "unexpected shape" : PQerrorMessage(c));
        goto out;
    }
    if (!(rel = calloc(1, sizeof *rel)) ||
        !(rel->cols = calloc((size_t)n, sizeof(relay_pgoutput_column))) ||
        !(rel->nspname = strdup(PQgetvalue(r, 0, 1))) ||
        !(rel->relname = strdup(PQgetvalue(r, 0, 2))))
        goto oom;
    rel->oid = (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
    rel->replident = PQgetvalue(r, 0, 3)[0];
    for (int i = 0; i < n; i++, rel->natts++) {
        relay_pgoutput_column *col = &rel->cols[i];
        if (!(col->name = strdup(PQgetvalue(r, i, 4))))
            goto oom;
        col->type_oid = (uint32_t)strtoul(PQgetvalue(r, i, 5), NULL, 10);
        col->typmod = (int32_t)strtol(PQgetvalue(r, i, 6), NULL, 10);
        col->key = strcmp(PQgetvalue(r, i, 7), "t") == 0;
    }
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    relay_pgoutput_relation_free(rel);
    rel = NULL;
out:
    PQclear(r);
    return rel;
}

/* SELECT col, col, ... FROM ONLY table: the relation's column order. */
static char *select_list(PGconn *c, const relay_pgoutput_relation *rel, const char *table)
{
    size_t cap = 64 + strlen(table);
    for (uint16_t i = 0; i < rel->natts; i++)
        cap += 2 * strlen(rel->cols[i].name) + 8;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t len = (size_t)snprintf(sql, cap, "DECLARE relay_snap NO SCROLL CURSOR FOR SELECT ");
    for (uint16_t i = 0; i < rel->natts; i++) {
        char *id = PQescapeIdentifier(c, rel->cols[i].name, strlen(rel->cols[i].name));
        len += (size_t)snprintf(sql + len, cap - len, "%s%s", i ? ", " : "", id ? id : "NULL");
        PQfreemem(id);
    }
    snprintf(sql + len, cap - len, " FROM ONLY %s", table);
    return sql;
}

static int send_rows(PGresult *r, relay_emit *e, relay_loop *l, relay_pgoutput_value *vals,
                     char *err, size_t errlen)
{
    int nf = PQnfields(r);
    relay_pgoutput_tuple t = {.natts = (uint16_t)nf, .vals = vals};
    for (int row = 0; row < PQntuples(r); row++) {
        for (int f = 0; f < nf; f++) {
            bool null = PQgetisnull(r, row, f);
            vals[f] = (relay_pgoutput_value){.kind = null ? 'n' : 't',
                                             .len = null ? 0 : (uint32_t)PQgetlength(r, row, f),
                                             .data = null ? NULL
                                                          : (const uint8_t *)PQgetvalue(r, row, f)};
        }
        int rc;
        do
            rc = relay_emit_snapshot_row(e, &t, err, errlen);
        while (relay_loop_retry(l, &rc));
        if (rc != RELAY_EMIT_OK)
            return rc;
    }
    return RELAY_EMIT_OK;
}

int relay_snapshot_run(PGconn *c, const char *snapshot, const char *table, uint64_t lsn,
                       relay_emit *e, relay_loop *l, long fetch_rows, char *err, size_t errlen)
{
    char sql[256];
    char *decl = NULL;
    relay_pgoutput_value *vals = NULL;
    relay_pgoutput_relation *rel = NULL;
    int rc = RELAY_EMIT_ERROR;
    char *lit = PQescapeLiteral(c, snapshot, strlen(snapshot));
    snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
    PQfreemem(lit);
    if (exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) < 0 ||
        exec_ok(c, sql, err, errlen) < 0 || !(rel = relay_snapshot_relation(c, table, err, errlen)))
        goto out;
    if (!(decl = select_list(c, rel, table)) || !(vals = calloc(rel->natts, sizeof *vals))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    do
        rc = relay_emit_relation(e, rel, err, errlen);
    while (relay_loop_retry(l, &rc));
    if (rc != RELAY_EMIT_STOP) /* the emitter took rel; a stop came while it waited to retry */
        rel = NULL;
    if (rc != RELAY_EMIT_OK)
        goto out;
    rc = RELAY_EMIT_ERROR;
    if (exec_ok(c, decl, err, errlen) < 0)
        goto out;
    int64_t now_pg = relay_unix_to_pg_us((int64_t)us_wall_us());
    do
        rc = relay_emit_begin(e, lsn, now_pg, 0, err, errlen);
    while (relay_loop_retry(l, &rc));
    if (rc != RELAY_EMIT_OK)
        goto out;
    snprintf(sql, sizeof sql, "FETCH %ld FROM relay_snap", fetch_rows);
    for (;;) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            char msg[512];
            us_redact_quoted(PQerrorMessage(c), msg, sizeof msg); /* a value can be quoted */
            snprintf(err, errlen, "snapshot fetch: %s", msg);
            PQclear(r);
            rc = RELAY_EMIT_ERROR;
            goto out;
        }
        int n = PQntuples(r);
        rc = n ? send_rows(r, e, l, vals, err, errlen) : RELAY_EMIT_OK;
        PQclear(r);
        if (rc != RELAY_EMIT_OK)
            goto out;
        if (n == 0)
            break;
    }
    rc = relay_emit_commit(e, lsn, lsn, err, errlen);
    if (rc == RELAY_EMIT_OK && exec_ok(c, "COMMIT", err, errlen) < 0)
        rc = RELAY_EMIT_ERROR;
    us_info("snapshot of %s at " RELAY_LSN_FMT ": %llu rows queued", table, RELAY_LSN_ARGS(lsn),
            (unsigned long long)relay_emit_rows(e));
out:
    if (rc != RELAY_EMIT_OK)
        PQclear(PQexec(c, "ROLLBACK"));
    relay_pgoutput_relation_free(rel);
    free(decl);
    free(vals);
    return rc;
}
