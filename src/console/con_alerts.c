/* con_alerts: see con_alerts.h. */
#include "con_alerts.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fire(json_t *list, const char *id, const char *msg)
{
    json_array_append_new(list, json_pack("{s:s,s:s}", "id", id, "message", msg));
}

/* The lag rose from the start of the window to now and never touched 0
 * (unknown seconds are skipped; a window with no value does not fire). */
static bool growing(con_ring *r, const char *metric, int64_t t, size_t seconds)
{
    double *v = malloc(seconds * sizeof *v);
    if (!v || con_ring_get(r, metric, t, seconds, v) < 0) {
        free(v);
        return false;
    }
    double first = NAN, last = NAN;
    bool zero = false;
    for (size_t i = 0; i < seconds; i++) {
        if (isnan(v[i]))
            continue;
        if (isnan(first))
            first = v[i];
        last = v[i];
        zero |= v[i] <= 0;
    }
    free(v);
    /* The first value must be from the window's first minute: a console
     * younger than the window does not judge it. */
    return !zero && !isnan(first) && last > first &&
           !isnan(con_ring_at(r, metric, t - (int64_t)seconds + 60, 59));
}

static void down_services(json_t *list, con_sample *s)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(s->detail, "health"), i, h)
    {
        const char *state = json_string_value(json_object_get(h, "state"));
        if (state && strcmp(state, "up") != 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s is down: %s",
                     json_string_value(json_object_get(h, "name")) ?: "?",
                     json_string_value(json_object_get(h, "detail")) ?: "");
            json_array_append_new(list,
                                  json_pack("{s:s,s:s}", "id", "service_down", "message", msg));
        }
    }
}

/* Appends the alert when msg is not empty; alert.<id> = whether it fired. */
static void rule(json_t *list, con_sample *s, const char *id, const char *msg)
{
    char metric[64];
    if (msg[0])
        fire(list, id, msg);
    snprintf(metric, sizeof metric, "alert.%s", id);
    con_sample_put(s, metric, msg[0] ? 1 : 0);
}

/* "stopped": a program stopped for good and recorded why (detail "stops"). */
static void stopped(json_t *list, con_sample *s)
{
    char msg[512] = "";
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(s->detail, "stops"), i, st)
    {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof msg - n, "%s%s stopped (exit %d) at %s: %s", n ? "; " : "",
                 json_string_value(json_object_get(st, "who")) ?: "?",
                 (int)json_integer_value(json_object_get(st, "exit_code")),
                 json_string_value(json_object_get(st, "stopped_at")) ?: "?",
                 json_string_value(json_object_get(st, "reason")) ?: "");
    }
    rule(list, s, "stopped", msg);
}

/* "wal_limit": how close the slot is to max_slot_wal_keep_size. PostgreSQL's
 * safe_wal_size is what can still be written before the slot loses WAL (NULL
 * without a limit): retained + safe is the limit as it applies now. */
static void wal_limit(json_t *list, const con_alerts_conf *conf, con_sample *s)
{
    char msg[256] = "";
    double wal = con_sample_get(s, "slot.retained_bytes");
    double safe = con_sample_get(s, "slot.safe_wal_bytes");
    const char *status =
        json_string_value(json_object_get(json_object_get(s->detail, "slot"), "wal_status"));
    if (status && (!strcmp(status, "unreserved") || !strcmp(status, "lost")))
        snprintf(msg, sizeof msg,
                 "the replication slot's WAL is %s: it is past max_slot_wal_keep_size (%.0f bytes "
                 "retained); PostgreSQL invalidates it at the next checkpoint",
                 status, wal);
    else if (!isnan(wal) && !isnan(safe) && wal + safe > 0 &&
             100.0 * wal / (wal + safe) >= conf->wal_limit_pct)
        snprintf(msg, sizeof msg,
                 "the replication slot retains %.0f bytes of WAL, %.0f%% of max_slot_wal_keep_size "
                 "(alert at %.0f%%); %.0f bytes more and PostgreSQL invalidates it",
                 wal, 100.0 * wal / (wal + safe), conf->wal_limit_pct, safe);
    rule(list, s, "wal_limit", msg);
}

/* "reconcile": the newest reconciliation found differences between staging and
 * Cassandra, or between Cassandra's users rows and their index rows (detail "reconcile",
 * ops.reconcile_runs), or could not compare. */
static void reconcile(json_t *list, con_sample *s)
{
    char msg[512] = "", index[128] = "";
    json_t *rc = json_object_get(s->detail, "reconcile");
    json_int_t missing = json_integer_value(json_object_get(rc, "missing"));
    json_int_t ghosts = json_integer_value(json_object_get(rc, "ghosts"));
    json_int_t stale = json_integer_value(json_object_get(rc, "stale_index"));
    json_int_t unindexed = json_integer_value(json_object_get(rc, "missing_index"));
    const char *problems = json_string_value(json_object_get(rc, "problems"));
    if (stale > 0 || unindexed > 0)
        snprintf(index, sizeof index, "; %lld stale and %lld missing index row(s)",
                 (long long)stale, (long long)unindexed);
    if (missing > 0 || ghosts > 0 || index[0] || (problems && problems[0]))
        snprintf(msg, sizeof msg,
                 "reconciliation %lld at %s: %lld user(s) missing in Cassandra, %lld ghost(s) in "
                 "Cassandra, %lld repaired%s%s%s",
                 (long long)json_integer_value(json_object_get(rc, "reconcile_id")),
                 json_string_value(json_object_get(rc, "finished_at")) ?: "?", (long long)missing,
                 (long long)ghosts, (long long)json_integer_value(json_object_get(rc, "repaired")),
                 index, problems && problems[0] ? "; " : "", problems ? problems : "");
    rule(list, s, "reconcile", msg);
}

json_t *con_alerts_eval(const con_alerts_conf *conf, con_sample *s)
{
    static const char *const lags[][2] = {
        {"slot.lag_bytes", "WAL bytes the relay has not confirmed"},
        {"relay.inflight_msgs", "records awaiting a Kafka ack"},
        {"spark.in_flight", "Kafka records Spark has not processed"}};
    json_t *list = json_array();
    char msg[256] = "";
    double wal = con_sample_get(s, "slot.retained_bytes");
    if (wal > conf->wal_bytes)
        snprintf(msg, sizeof msg, "the replication slot retains %.0f bytes of WAL (threshold %.0f)",
                 wal, conf->wal_bytes);
    rule(list, s, "wal_retained", msg);
    wal_limit(list, conf, s);
    msg[0] = '\0';
    for (size_t i = 0; i < sizeof lags / sizeof lags[0]; i++)
        if (growing(s->ring, lags[i][0], s->t, (size_t)conf->lag_minutes * 60))
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
                     "%slag growing for %ld minutes: %s, now %.0f", msg[0] ? "; " : "",
                     conf->lag_minutes, lags[i][1], con_sample_get(s, lags[i][0]));
    rule(list, s, "lag_growing", msg);
    msg[0] = '\0';
    double dlq_now = con_sample_get(s, "dlq.records");
    double dlq_then = con_ring_at(s->ring, "dlq.records", s->t - 300, 60);
    if (dlq_now > dlq_then)
        snprintf(msg, sizeof msg,
                 "%.0f new dead letter(s) in the last 5 minutes (%.0f in the DLQ topic)",
                 dlq_now - dlq_then, dlq_now);
    rule(list, s, "dead_letters", msg);
    size_t before = json_array_size(list);
    down_services(list, s);
    con_sample_put(s, "alert.service_down", json_array_size(list) > before);
    msg[0] = '\0';
    double batch = con_sample_get(s, "spark.batch_ms");
    if (conf->spark_trigger_ms > 0 && batch > (double)conf->spark_trigger_ms)
        snprintf(msg, sizeof msg,
                 "the last Spark batch took %.0f ms, longer than its %ld ms trigger", batch,
                 conf->spark_trigger_ms);
    rule(list, s, "spark_slow", msg);
    stopped(list, s);
    reconcile(list, s);
    return list;
}
