/* con_pg: see con_pg.h. */
#include "con_pg.h"
#include "us_log.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct con_pg {
    con_pg_conf conf;
    char conninfo[1024];
    PGconn *c;
    time_t last_count;
    double staged, rejected; /* the last exact counts */
    json_t *reasons;
    bool down_logged;
};

con_pg *con_pg_new(const con_pg_conf *conf)
{
    con_pg *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->conf = *conf;
    /* Bounded waits: a stuck server costs one round, not the collector. */
    snprintf(p->conninfo, sizeof p->conninfo,
             "%s connect_timeout=3 application_name=userstream-console "
             "options='-c statement_timeout=5000 -c default_transaction_read_only=on'",
             conf->conninfo);
    p->conf.conninfo = p->conninfo;
    p->staged = p->rejected = NAN;
    return p;
}

void con_pg_free(con_pg *p)
{
    if (!p)
        return;
    PQfinish(p->c);
    json_decref(p->reasons);
    free(p);
}

static int connect_if_needed(con_pg *p, con_sample *s)
{
    if (p->c && PQstatus(p->c) == CONNECTION_OK)
        return 0;
    PQfinish(p->c);
    p->c = PQconnectdb(p->conninfo);
    if (PQstatus(p->c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(p->c));
        msg[strcspn(msg, "\n")] = '\0';
        con_sample_error(s, "postgres", "%s", msg);
        if (!p->down_logged)
            us_warn("PostgreSQL: %s", msg);
        p->down_logged = true;
        PQfinish(p->c);
        p->c = NULL;
        return -1;
    }
    if (p->down_logged)
        us_info("PostgreSQL: connected");
    p->down_logged = false;
    return 0;
}

/* Runs sql with params; a result with exactly `cols` columns, or NULL with
 * the error recorded under "postgres". */
static PGresult *query(con_pg *p, con_sample *s, const char *sql, int nparams,
                       const char *const *params, int cols)
{
    PGresult *r = PQexecParams(p->c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != cols) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s",
                 PQresultStatus(r) == PGRES_TUPLES_OK ? "unexpected result shape"
                                                      : PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        con_sample_error(s, "postgres", "%s", msg);
        PQclear(r);
        return NULL;
    }
    return r;
}

static double num(const PGresult *r, int row, int col)
{
    if (row >= PQntuples(r) || PQgetisnull(r, row, col))
        return NAN;
    return strtod(PQgetvalue(r, row, col), NULL);
}

static int collect_loader(con_pg *p, con_sample *s)
{
    PGresult *r = query(p, s,
                        "SELECT coalesce(sum(fetched),0), coalesce(sum(staged),0), "
                        "coalesce(sum(duplicates),0), coalesce(sum(rejected),0), count(*), "
                        "extract(epoch FROM now() - max(committed_at)) FROM ops.load_batches",
                        0, NULL, 6);
    if (!r)
        return -1;
    con_sample_put(s, "loader.fetched", num(r, 0, 0));
    con_sample_put(s, "loader.staged", num(r, 0, 1));
    con_sample_put(s, "loader.duplicates", num(r, 0, 2));
    con_sample_put(s, "loader.rejected", num(r, 0, 3));
    con_sample_put(s, "loader.batches", num(r, 0, 4));
    con_sample_put(s, "loader.last_batch_age_s", num(r, 0, 5));
    PQclear(r);
    return 0;
}

/* count(*) scans: at most every count_interval_s, the last value between. */
static int collect_counts(con_pg *p, con_sample *s)
{
    time_t now = time(NULL);
    if (isnan(p->staged) || now - p->last_count >= p->conf.count_interval_s) {
        PGresult *r = query(p, s,
                            "SELECT (SELECT count(*) FROM staging.users), "
                            "(SELECT count(*) FROM staging.rejects)",
                            0, NULL, 2);
        PGresult *g = r ? query(p, s,
                                "SELECT reason, count(*) FROM staging.rejects "
                                "GROUP BY reason ORDER BY 2 DESC, 1 LIMIT 50",
                                0, NULL, 2)
                        : NULL;
        if (!r || !g) {
            PQclear(r);
            return -1;
        }
        p->staged = num(r, 0, 0);
        p->rejected = num(r, 0, 1);
        json_decref(p->reasons);
        p->reasons = json_array();
        for (int i = 0; i < PQntuples(g); i++)
            json_array_append_new(p->reasons, json_pack("{s:s,s:f}", "reason", PQgetvalue(g, i, 0),
                                                        "count", num(g, i, 1)));
        p->last_count = now;
        PQclear(r);
        PQclear(g);
    }
    con_sample_put(s, "postgres.staged", p->staged);
    con_sample_put(s, "postgres.rejected", p->rejected);
    con_sample_detail(
        s, "rejects",
        json_pack("{s:O,s:I}", "reasons", p->reasons, "counted_at", (json_int_t)p->last_count));
    return 0;
}

static int collect_slot(con_pg *p, con_sample *s)
{
    const char *params[] = {p->conf.slot};
    PGresult *r = query(p, s,
                        "SELECT active, confirmed_flush_lsn::text, "
                        "pg_wal_lsn_diff(confirmed_flush_lsn, '0/0'), "
                        "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), "
                        "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), "
                        "safe_wal_size, wal_status, pg_current_wal_lsn()::text "
                        "FROM pg_replication_slots WHERE slot_name = $1",
                        1, params, 8);
    if (!r)
        return -1;
    bool found = PQntuples(r) == 1;
    con_sample_put(s, "slot.active", found ? strcmp(PQgetvalue(r, 0, 0), "t") == 0 : NAN);
    con_sample_put(s, "slot.confirmed_lsn", num(r, 0, 2));
    con_sample_put(s, "slot.retained_bytes", num(r, 0, 3));
    con_sample_put(s, "slot.lag_bytes", num(r, 0, 4));
    con_sample_put(s, "slot.safe_wal_bytes", num(r, 0, 5));
    con_sample_detail(s, "slot",
                      json_pack("{s:s,s:b,s:b,s:s?,s:s?,s:s?}", "name", p->conf.slot, "found",
                                found, "active", found && !strcmp(PQgetvalue(r, 0, 0), "t"),
                                "confirmed_flush_lsn", found ? PQgetvalue(r, 0, 1) : NULL,
                                "wal_status",
                                found && !PQgetisnull(r, 0, 6) ? PQgetvalue(r, 0, 6) : NULL,
                                "current_wal_lsn", found ? PQgetvalue(r, 0, 7) : NULL));
    PQclear(r);
    return 0;
}

static void put_spark_batch(con_sample *s, PGresult *r)
{
    json_t *offsets = NULL;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 5))
        offsets = json_loads(PQgetvalue(r, 0, 5), 0, NULL);
    con_sample_put(s, "spark.batch_id", num(r, 0, 0));
    con_sample_put(s, "spark.batch_ms", num(r, 0, 1));
    con_sample_put(s, "spark.batch_rows", num(r, 0, 2));
    con_sample_put(s, "spark.input_rate", num(r, 0, 3));
    con_sample_put(s, "spark.processing_rate", num(r, 0, 4));
    con_sample_put(s, "spark.last_batch_age_s", num(r, 0, 6));
    con_sample_detail(s, "spark_offsets", json_is_object(offsets) ? offsets : json_object());
    if (offsets && !json_is_object(offsets))
        json_decref(offsets);
}

static int collect_spark(con_pg *p, con_sample *s)
{
    const char *params[] = {p->conf.spark_query};
    PGresult *b = query(
        p, s,
        "SELECT batch_id, duration_ms, input_rows, CASE WHEN gap > 0 THEN input_rows / gap END, "
        "CASE WHEN duration_ms > 0 THEN input_rows * 1000.0 / duration_ms END, "
        "end_offsets::text, extract(epoch FROM now() - finished_at) FROM ("
        " SELECT *, extract(epoch FROM started_at - lag(started_at) OVER (ORDER BY batch_id)) AS "
        "gap"
        " FROM (SELECT * FROM ops.stream_progress WHERE query_name = $1 AND end_offsets IS NOT NULL"
        "       ORDER BY batch_id DESC LIMIT 2) l) w ORDER BY batch_id DESC LIMIT 1",
        1, params, 7);
    PGresult *t =
        b ? query(p, s,
                  "SELECT coalesce(sum(input_rows),0), coalesce(sum(upserts),0), "
                  "coalesce(sum(deletes),0), coalesce(sum(dead_letters),0), count(*), "
                  "(SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_p50_ms) FROM "
                  "ops.stream_progress"
                  "  WHERE query_name = $1 AND finished_at > now() - interval '5 minutes'), "
                  "(SELECT max(latency_p99_ms) FROM ops.stream_progress"
                  "  WHERE query_name = $1 AND finished_at > now() - interval '5 minutes') "
                  "FROM ops.stream_progress WHERE query_name = $1",
                  1, params, 7)
          : NULL;
    if (!b || !t) {
        PQclear(b);
        return -1;
    }
    put_spark_batch(s, b);
    con_sample_put(s, "spark.input_rows", num(t, 0, 0));
    con_sample_put(s, "spark.upserts", num(t, 0, 1));
    con_sample_put(s, "spark.deletes", num(t, 0, 2));
    con_sample_put(s, "spark.dead_letters", num(t, 0, 3));
    con_sample_put(s, "spark.batches", num(t, 0, 4));
    con_sample_put(s, "latency.p50_ms", num(t, 0, 5));
    con_sample_put(s, "latency.p99_ms", num(t, 0, 6));
    PQclear(b);
    PQclear(t);
    return 0;
}

/* A query whose one row is JSON text built by the server, as the detail
 * `name` (null when there is no row yet). */
static int collect_json(con_pg *p, con_sample *s, const char *name, const char *sql)
{
    PGresult *r = query(p, s, sql, 0, NULL, 1);
    if (!r)
        return -1;
    json_t *j = PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    con_sample_detail(s, name, j);
    PQclear(r);
    return 0;
}

/* The quality DAG's last report (ops.ingest_quality), as JSON text built
 * by the server. */
static int collect_quality(con_pg *p, con_sample *s)
{
    return collect_json(
        p, s, "quality",
        "SELECT row_to_json(q)::text FROM (SELECT check_id, run_id, checked_at, ok, "
        "load_runs, fetched, staged, duplicates, rejected, pages_rejected, staged_in_table, "
        "rejected_in_table, freshness_seconds, problems FROM ops.ingest_quality "
        "ORDER BY check_id DESC LIMIT 1) q");
}

/* Programs that stopped for good and said why (ops.stream_stops of the Spark
 * job, ops.relay_stops of the relay): the detail "stops" for the alert rule
 * "stopped". A stack without those tables yet has none. */
static int collect_stops(con_pg *p, con_sample *s)
{
    PGresult *r = query(p, s,
                        "SELECT 'spark query ' || query_name, exit_code, reason, stopped_at::text "
                        "FROM ops.stream_stops UNION ALL "
                        "SELECT 'relay slot ' || slot_name, exit_code, reason, stopped_at::text "
                        "FROM ops.relay_stops ORDER BY 4 DESC LIMIT 20",
                        0, NULL, 4);
    if (!r)
        return -1;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++)
        json_array_append_new(list,
                              json_pack("{s:s,s:i,s:s,s:s}", "who", PQgetvalue(r, i, 0),
                                        "exit_code", atoi(PQgetvalue(r, i, 1)), "reason",
                                        PQgetvalue(r, i, 2), "stopped_at", PQgetvalue(r, i, 3)));
    con_sample_detail(s, "stops", list);
    PQclear(r);
    return 0;
}

/* What the data lifecycle did (docs/lifecycle.md): the staging purges of
 * the last day (ops.staging_purges) and the erasure records (ops.erasures),
 * with the next time a store that cannot be rewritten at once will be
 * clean. The detail "lifecycle" of the retention panel. */
static int collect_lifecycle(con_pg *p, con_sample *s)
{
    return collect_json(
        p, s, "lifecycle",
        "SELECT json_build_object("
        "'last_purge_at', (SELECT max(purged_at) FROM ops.staging_purges), "
        "'purged_users_24h', (SELECT coalesce(sum(users), 0) FROM ops.staging_purges "
        " WHERE purged_at > now() - interval '1 day'), "
        "'purged_rejects_24h', (SELECT coalesce(sum(rejects), 0) FROM ops.staging_purges "
        " WHERE purged_at > now() - interval '1 day'), "
        "'erasures', e.n, 'erasures_pending', e.pending, 'last_erasure_at', e.last, "
        "'kafka_compacted_by', e.compacted_by, 'dlq_expired_by', e.dlq_by)::text "
        "FROM (SELECT count(*) AS n, "
        " count(*) FILTER (WHERE kafka_tombstone_at IS NULL OR cassandra_clean_at IS NULL "
        "  OR spool_clean_at IS NULL) AS pending, max(requested_at) AS last, "
        " max(kafka_compacted_by) FILTER (WHERE kafka_compacted_by > now()) AS compacted_by, "
        " max(dlq_expired_by) FILTER (WHERE dlq_expired_by > now()) AS dlq_by "
        " FROM ops.erasures) e");
}

/* The newest finished reconciliation (ops.reconcile_runs, DAG userstream_reconcile):
 * the detail "reconcile" for the alert rule of that name; null before the first. */
static int collect_reconcile(con_pg *p, con_sample *s)
{
    return collect_json(p, s, "reconcile",
                        "SELECT row_to_json(q)::text FROM (SELECT reconcile_id, finished_at, "
                        "missing, ghosts, stale_index, missing_index, in_flight, repaired, repair, "
                        "array_to_string(problems, '; ') AS problems FROM ops.reconcile_runs "
                        "WHERE finished_at IS NOT NULL ORDER BY reconcile_id DESC LIMIT 1) q");
}

int con_pg_collect(con_pg *p, con_sample *s)
{
    if (connect_if_needed(p, s) < 0)
        return -1;
    int rc = 0;
    rc |= collect_loader(p, s);
    rc |= collect_counts(p, s);
    rc |= collect_slot(p, s);
    rc |= collect_spark(p, s);
    rc |= collect_quality(p, s);
    rc |= collect_stops(p, s);
    rc |= collect_lifecycle(p, s);
    rc |= collect_reconcile(p, s);
    if (PQstatus(p->c) != CONNECTION_OK) {
        PQfinish(p->c);
        p->c = NULL;
    }
    return rc ? -1 : 0;
}

bool con_pg_connected(const con_pg *p)
{
    return p->c && PQstatus(p->c) == CONNECTION_OK;
}

void con_pg_recount(con_pg *p)
{
    p->staged = NAN;
}
