/* con_collect: see con_collect.h.
 *
 * The stages of the pipeline view, in data-flow order, and the numbers of
 * `./userstream counts` (the accounting spark/stage_counts.py had):
 *   fetched         sum(fetched) of ops.load_batches (records the loader got)
 *   staged          count(*) of staging.users
 *   rejected        count(*) of staging.rejects
 *   kafka           sum over partitions of high - low watermark of the topic
 *   spark_processed sum over partitions of (Spark's last end offset - low)
 *   in_flight       sum over partitions of (high - Spark's last end offset)
 *   cassandra       count(*) of users, by 64 token ranges
 *   dlq_distinct    dead letters, once per us.dlq.source header
 * Rates come from the ring (counters over 10 s and 5 min); a stage's lag is
 * what waits between it and the next one. */
#include "con_collect.h"
#include "con_cql.h"
#include "con_retention.h"
#include "us_log.h"
#include "us_metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct con_collect {
    con_collect_conf conf;
    con_ring *ring;
    con_pg *pg;
    con_upstream *up;
    con_marks *marks, *slow_marks;
    pthread_t fast, slow;
    bool fast_started, slow_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    /* Fresh counts on demand (GET /api/counts?fresh=1): kicks wake a thread
     * early; the *_seq count finished rounds; *_busy says one is running. */
    bool kick_fast, kick_slow, fast_busy, slow_busy;
    unsigned long slow_seq;
    bool recount; /* the next fast round redoes the count(*) scans */
    char *pipeline, *counts, *health;
    json_t *retention; /* the lifecycle keys, read once at start */
    us_buf prom;
    unsigned long rounds;
    /* results of the slow thread */
    double cass_rows, dlq_distinct;
    int64_t cass_at, dlq_at;
    char cass_err[256], dlq_err[256];
};

typedef struct stage_def {
    const char *id, *label, *count, *rate, *service, *lag, *lag_unit, *lag_label;
} stage_def;

static const stage_def stages[] = {
    {"fetched", "fetched from the API (ops.load_batches)", "loader.fetched", "loader.fetched",
     "source", NULL, NULL, NULL},
    {"staged", "staged: PostgreSQL staging.users", "postgres.staged", "loader.staged", "postgres",
     "slot.lag_bytes", "bytes", "WAL the relay has not confirmed"},
    {"rejected", "rejected: PostgreSQL staging.rejects", "postgres.rejected", "loader.rejected",
     "postgres", NULL, NULL, NULL},
    {"relay", "relay: records Kafka acknowledged", "relay.rows_acked", "relay.rows_acked", "relay",
     "relay.inflight_msgs", "records", "awaiting a Kafka acknowledgement"},
    {"kafka", "Kafka topic records", "kafka.records", "kafka.end", "kafka", "spark.in_flight",
     "records", "not yet processed by Spark"},
    {"spark", "Spark: records processed", "spark.processed", "spark.processed", "spark_job", NULL,
     NULL, NULL},
    {"cassandra", "Cassandra users", "cassandra.rows", "spark.upserts", "cassandra", NULL, NULL,
     NULL},
    {"dlq", "dead letters (distinct source records)", "dlq.distinct", "dlq.records", "kafka", NULL,
     NULL, NULL},
};

static json_t *num_or_null(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* ---- the slow thread: scans ---- */

static int64_t cassandra_count(con_collect *c, char *err, size_t errlen)
{
    const con_upstream_conf *u = &c->conf.up;
    con_cql *q = con_cql_connect(u->cassandra_host, u->cassandra_port, &u->cassandra_login, 60000,
                                 err, errlen);
    if (!q)
        return -1;
    int n = c->conf.cassandra_slices > 0 ? c->conf.cassandra_slices : 64;
    __int128 lo = -((__int128)1 << 63), hi = ((__int128)1 << 63) - 1, step = (hi - lo) / n;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        char cql[512];
        if (__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) { /* a stop does not wait for the scan */
            snprintf(err, errlen, "stopping");
            total = -1;
            break;
        }
        int64_t a = (int64_t)(lo + step * i),
                b = i + 1 < n ? (int64_t)(lo + step * (i + 1)) : (int64_t)hi, k;
        snprintf(cql, sizeof cql,
                 "SELECT count(*) FROM \"%s\".users WHERE token(user_id) > %lld AND token(user_id) "
                 "<= %lld",
                 c->conf.cassandra_keyspace, (long long)a, (long long)b);
        if (con_cql_query_count(q, cql, &k, err, errlen) < 0) {
            total = -1;
            break;
        }
        total += k;
    }
    con_cql_close(q);
    return total;
}

static void slow_round(con_collect *c)
{
    char cerr[256] = "", derr[256] = "";
    int64_t rows = cassandra_count(c, cerr, sizeof cerr);
    int64_t dlq = c->slow_marks ? con_marks_dlq_distinct(c->slow_marks, c->conf.dlq_topic, 100000,
                                                         derr, sizeof derr)
                                : -1;
    pthread_mutex_lock(&c->lock);
    int64_t now = time(NULL);
    c->cass_rows = rows >= 0 ? (double)rows : NAN;
    c->cass_at = now;
    snprintf(c->cass_err, sizeof c->cass_err, "%s", rows >= 0 ? "" : cerr);
    c->dlq_distinct = dlq >= 0 ? (double)dlq : NAN;
    c->dlq_at = now;
    c->slow_seq++;
    c->slow_busy = false;
    pthread_cond_broadcast(&c->wake);
    snprintf(c->dlq_err, sizeof c->dlq_err, "%s", dlq >= 0 ? "" : derr);
    pthread_mutex_unlock(&c->lock);
}

/* Waits ms or until stop; returns true when stopping. */
static bool nap(con_collect *c, long ms, bool *kick, bool *busy)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (!c->stop && !*kick && pthread_cond_timedwait(&c->wake, &c->lock, &ts) == 0)
        ;
    bool stop = c->stop;
    *kick = false;
    *busy = true;
    pthread_mutex_unlock(&c->lock);
    return stop;
}

static void *slow_main(void *arg)
{
    con_collect *c = arg;
    pthread_mutex_lock(&c->lock);
    c->slow_busy = true;
    pthread_mutex_unlock(&c->lock);
    do
        slow_round(c);
    while (!nap(c, c->conf.slow_interval_s * 1000, &c->kick_slow, &c->slow_busy));
    return NULL;
}

/* ---- the fast round ---- */

static bool collect_kafka(con_collect *c, con_sample *s, char *detail, size_t dlen)
{
    char err[256];
    json_t *users = con_marks_topic(c->marks, c->conf.topic, err, sizeof err);
    if (!users) {
        con_sample_error(s, "kafka", "%s", err);
        snprintf(detail, dlen, "%s", err);
        return con_marks_brokers(c->marks) > 0;
    }
    con_sample_put(s, "kafka.records",
                   (double)json_integer_value(json_object_get(users, "messages")));
    con_sample_put(s, "kafka.end", (double)json_integer_value(json_object_get(users, "high")));
    con_sample_detail(s, "kafka_topic", users);
    json_t *dlq = con_marks_topic(c->marks, c->conf.dlq_topic, err, sizeof err);
    if (dlq) {
        con_sample_put(s, "dlq.records",
                       (double)json_integer_value(json_object_get(dlq, "messages")));
        con_sample_detail(s, "kafka_dlq", dlq);
    } else
        con_sample_error(s, "kafka", "%s", err);
    snprintf(detail, dlen, "metadata: %d broker(s)", con_marks_brokers(c->marks));
    return true;
}

/* processed and in flight per partition, from Spark's last end offsets. */
static void derive_spark(con_sample *s)
{
    json_t *topic = json_object_get(s->detail, "kafka_topic");
    json_t *ends = json_object_get(s->detail, "spark_offsets");
    if (!topic || !json_is_object(ends) || isnan(con_sample_get(s, "spark.batches")))
        return;
    double processed = 0, flight = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(topic, "partitions"), i, p)
    {
        char key[16];
        snprintf(key, sizeof key, "%lld",
                 (long long)json_integer_value(json_object_get(p, "partition")));
        double lo = (double)json_integer_value(json_object_get(p, "low"));
        double hi = (double)json_integer_value(json_object_get(p, "high"));
        json_t *e = json_object_get(ends, key);
        double end = json_is_number(e) ? json_number_value(e) : lo;
        processed += fmax(0, end - lo);
        flight += fmax(0, hi - end);
    }
    con_sample_put(s, "spark.processed", processed);
    con_sample_put(s, "spark.in_flight", flight);
}

static void put_slow(con_collect *c, con_sample *s)
{
    pthread_mutex_lock(&c->lock);
    con_sample_put(s, "cassandra.rows", c->cass_rows);
    con_sample_put(s, "dlq.distinct", c->dlq_distinct);
    if (c->cass_err[0])
        con_sample_error(s, "cassandra", "%s", c->cass_err);
    if (c->dlq_err[0])
        con_sample_error(s, "dlq", "%s", c->dlq_err);
    con_sample_detail(s, "scans",
                      json_pack("{s:I,s:I,s:i}", "cassandra_counted_at", (json_int_t)c->cass_at,
                                "dlq_counted_at", (json_int_t)c->dlq_at, "interval_s",
                                (int)c->conf.slow_interval_s));
    pthread_mutex_unlock(&c->lock);
}

static const char *service_state(json_t *health, const char *name)
{
    size_t i;
    json_t *h;
    json_array_foreach(health, i, h)
    {
        if (!strcmp(json_string_value(json_object_get(h, "name")) ?: "", name))
            return json_string_value(json_object_get(h, "state"));
    }
    return NULL;
}

static json_t *build_stages(con_collect *c, con_sample *s)
{
    json_t *list = json_array(), *health = json_object_get(s->detail, "health");
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
        const stage_def *d = &stages[i];
        json_t *st = json_pack("{s:s,s:s,s:o,s:o,s:o,s:s?,s:s?}", "id", d->id, "label", d->label,
                               "count", num_or_null(con_sample_get(s, d->count)), "rate_10s",
                               num_or_null(con_ring_rate(c->ring, d->rate, s->t, 10)), "rate_5m",
                               num_or_null(con_ring_rate(c->ring, d->rate, s->t, 300)), "service",
                               d->service, "state", service_state(health, d->service));
        if (!strcmp(d->id, "kafka"))
            json_object_set_new(st, "label", json_sprintf("Kafka %s records", c->conf.topic));
        json_object_set_new(st, "count_metric", json_string(d->count));
        json_object_set_new(st, "rate_metric", json_string(d->rate));
        if (d->lag)
            json_object_set_new(st, "lag",
                                json_pack("{s:o,s:s,s:s,s:s}", "value",
                                          num_or_null(con_sample_get(s, d->lag)), "unit",
                                          d->lag_unit, "what", d->lag_label, "metric", d->lag));
        json_array_append_new(list, st);
    }
    return list;
}

/* The stage_counts.py --json shape: `./userstream counts` prints it. */
static json_t *build_counts(con_sample *s)
{
    static const char *const keys[][2] = {
        {"fetched", "loader.fetched"},          {"staged", "postgres.staged"},
        {"rejected", "postgres.rejected"},      {"kafka", "kafka.records"},
        {"spark_processed", "spark.processed"}, {"in_flight", "spark.in_flight"},
        {"cassandra", "cassandra.rows"},        {"dlq_distinct", "dlq.distinct"},
        {"duplicates", "loader.duplicates"},    {"latency_p50_ms", "latency.p50_ms"},
        {"latency_p99_ms", "latency.p99_ms"}};
    json_t *o = json_object(), *errors = json_array();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        json_object_set_new(o, keys[i][0], num_or_null(con_sample_get(s, keys[i][1])));
    const char *k;
    json_t *v;
    json_object_foreach(s->errors, k, v)
    {
        json_array_append_new(errors, json_sprintf("%s: %s", k, json_string_value(v) ?: "?"));
    }
    json_object_set_new(o, "errors", errors);
    return o;
}

static json_t *section(con_sample *s, const char *const *names)
{
    json_t *o = json_object();
    for (size_t i = 0; names[i]; i++) {
        const char *dot = strchr(names[i], '.');
        json_object_set_new(o, dot ? dot + 1 : names[i], num_or_null(con_sample_get(s, names[i])));
    }
    return o;
}

static json_t *build_doc(con_collect *c, con_sample *s, json_t *counts)
{
    static const char *const slot[] = {"slot.confirmed_lsn", "slot.retained_bytes",
                                       "slot.lag_bytes", "slot.safe_wal_bytes", NULL};
    static const char *const relay[] = {
        "relay.rows_per_s", "relay.inflight_txns",   "relay.inflight_msgs", "relay.ack_p50_ms",
        "relay.ack_p99_ms", "relay.delivery_errors", "relay.state",         NULL};
    static const char *const spark[] = {"spark.batch_id",        "spark.batch_ms",
                                        "spark.batch_rows",      "spark.input_rate",
                                        "spark.processing_rate", "spark.last_batch_age_s",
                                        "spark.upserts",         "spark.deletes",
                                        "spark.dead_letters",    NULL};
    static const char *const lat[] = {"latency.p50_ms", "latency.p99_ms", NULL};
    json_t *sl = section(s, slot), *sp = section(s, spark);
    if (json_is_object(json_object_get(s->detail, "slot")))
        json_object_update(sl, json_object_get(s->detail, "slot"));
    json_object_set(sp, "end_offsets", json_object_get(s->detail, "spark_offsets") ?: json_null());
    return json_pack(
        "{s:I,s:o,s:O,s:o,s:o,s:o,s:o,s:O,s:{s:O,s:O},s:O,s:O,s:O,s:O,s:O,s:O,s:{s:O,s:O}}", "time",
        (json_int_t)s->t, "stages", build_stages(c, s), "counts", counts, "slot", sl, "relay",
        section(s, relay), "spark", sp, "latency", section(s, lat), "rejects",
        json_object_get(s->detail, "rejects") ?: json_null(), "kafka", "topic",
        json_object_get(s->detail, "kafka_topic") ?: json_null(), "dlq",
        json_object_get(s->detail, "kafka_dlq") ?: json_null(), "health",
        json_object_get(s->detail, "health") ?: json_null(), "scans",
        json_object_get(s->detail, "scans") ?: json_null(), "errors", s->errors, "metrics",
        s->metrics, "alerts", json_object_get(s->detail, "alerts") ?: json_null(), "quality",
        json_object_get(s->detail, "quality") ?: json_null(), "retention", "config",
        c->retention ?: json_null(), "state",
        json_object_get(s->detail, "lifecycle") ?: json_null());
}

static void prom_of(us_buf *b, json_t *metrics)
{
    const char *k;
    json_t *v;
    us_prom_family(
        b, "userstream_console_value", "gauge",
        "The latest value of each pipeline number the console collects (see /api/pipeline).");
    json_object_foreach(metrics, k, v)
    {
        if (!json_is_number(v))
            continue;
        const char *labels[] = {"metric", k, NULL};
        us_prom_sample(b, "userstream_console_value", labels, json_number_value(v));
    }
}

static void publish(con_collect *c, con_sample *s)
{
    json_t *counts = build_counts(s);
    json_t *doc = build_doc(c, s, counts);
    char *p = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    char *k = json_dumps(counts, JSON_COMPACT);
    char *h = json_dumps(json_object_get(doc, "health") ?: json_array(), JSON_COMPACT);
    us_buf prom = {0};
    prom_of(&prom, s->metrics);
    pthread_mutex_lock(&c->lock);
    if (p && k && h) {
        free(c->pipeline), free(c->counts), free(c->health);
        c->pipeline = p, c->counts = k, c->health = h;
        p = k = h = NULL;
    }
    us_buf_free(&c->prom);
    c->prom = prom;
    c->rounds++;
    c->fast_busy = false;
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    free(p), free(k), free(h);
    json_decref(doc);
    json_decref(counts);
}

static void fast_round(con_collect *c)
{
    con_sample s = {c->ring, time(NULL), json_object(), json_object(), json_object()};
    pthread_mutex_lock(&c->lock);
    bool recount = c->recount;
    c->recount = false;
    pthread_mutex_unlock(&c->lock);
    if (recount)
        con_pg_recount(c->pg);
    char kdetail[256] = "", pdetail[256] = "ready (login and query as the ops role)";
    con_pg_collect(c->pg, &s);
    bool pg_ok = con_pg_connected(c->pg);
    if (!pg_ok)
        snprintf(pdetail, sizeof pdetail, "%s",
                 json_string_value(json_object_get(s.errors, "postgres")) ?: "down");
    bool k_ok = collect_kafka(c, &s, kdetail, sizeof kdetail);
    con_upstream_relay(c->up, &s);
    con_upstream_health(c->up, &s, pg_ok, pdetail, c->conf.pg_address, k_ok, kdetail,
                        c->conf.kafka_bootstrap);
    put_slow(c, &s);
    derive_spark(&s);
    con_sample_detail(&s, "alerts", con_alerts_eval(&c->conf.alerts, &s));
    publish(c, &s);
    json_decref(s.metrics), json_decref(s.detail), json_decref(s.errors);
}

/* Rounds start on wall-clock boundaries of the interval, so each lands in
 * its own second of the ring however long the previous one took. */
static long until_next_tick(long interval_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long now_ms = (long)(ts.tv_sec % 86400) * 1000 + ts.tv_nsec / 1000000;
    long wait = interval_ms - now_ms % interval_ms;
    return wait < 50 ? wait + interval_ms : wait;
}

static void *fast_main(void *arg)
{
    con_collect *c = arg;
    pthread_mutex_lock(&c->lock);
    c->fast_busy = true;
    pthread_mutex_unlock(&c->lock);
    do
        fast_round(c);
    while (!nap(c, until_next_tick(c->conf.interval_ms), &c->kick_fast, &c->fast_busy));
    return NULL;
}

con_collect *con_collect_start(const con_collect_conf *conf, con_ring *ring, char *err,
                               size_t errlen)
{
    con_collect *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->conf = *conf;
    c->ring = ring;
    c->cass_rows = c->dlq_distinct = NAN;
    c->retention = con_retention_config(getenv);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (!(c->pg = con_pg_new(&conf->pg)) || !(c->up = con_upstream_new(&conf->up)) ||
        !(c->marks = con_marks_new(conf->kafka_bootstrap, conf->kafka_extra, 2000, err, errlen)) ||
        !(c->slow_marks =
              con_marks_new(conf->kafka_bootstrap, conf->kafka_extra, 2000, err, errlen))) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        con_collect_stop(c);
        return NULL;
    }
    c->fast_started = pthread_create(&c->fast, NULL, fast_main, c) == 0;
    c->slow_started = c->fast_started && pthread_create(&c->slow, NULL, slow_main, c) == 0;
    if (!c->slow_started) {
        snprintf(err, errlen, "cannot start the collector threads");
        con_collect_stop(c);
        return NULL;
    }
    return c;
}

void con_collect_stop(con_collect *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    if (c->fast_started)
        pthread_join(c->fast, NULL);
    if (c->slow_started)
        pthread_join(c->slow, NULL);
    con_marks_free(c->marks);
    con_marks_free(c->slow_marks);
    con_upstream_free(c->up);
    con_pg_free(c->pg);
    free(c->pipeline), free(c->counts), free(c->health);
    json_decref(c->retention);
    us_buf_free(&c->prom);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static char *copy_out(con_collect *c, char *const *src, const char *fallback, size_t *len)
{
    pthread_mutex_lock(&c->lock);
    char *p = strdup(*src ? *src : fallback);
    pthread_mutex_unlock(&c->lock);
    *len = p ? strlen(p) : 0;
    return p;
}

char *con_collect_pipeline(con_collect *c, size_t *len)
{
    return copy_out(c, &c->pipeline, "{\"starting\":true,\"stages\":[],\"health\":[]}", len);
}

char *con_collect_counts(con_collect *c, size_t *len)
{
    return copy_out(c, &c->counts, "{\"starting\":true,\"errors\":[\"console: no round yet\"]}",
                    len);
}

char *con_collect_health(con_collect *c, size_t *len)
{
    return copy_out(c, &c->health, "[]", len);
}

void con_collect_metrics(con_collect *c, us_buf *b)
{
    pthread_mutex_lock(&c->lock);
    us_buf_put(b, us_buf_str(&c->prom), c->prom.len);
    us_prom_metric(b, "userstream_console_rounds_total", "counter", "Collection rounds done.",
                   (double)c->rounds);
    pthread_mutex_unlock(&c->lock);
}

unsigned long con_collect_rounds(con_collect *c)
{
    pthread_mutex_lock(&c->lock);
    unsigned long n = c->rounds;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* Waits (lock held) until *seq reaches target or the deadline passes. */
static bool wait_seq(con_collect *c, const unsigned long *seq, unsigned long target,
                     const struct timespec *deadline)
{
    while (*seq < target && !c->stop)
        if (pthread_cond_timedwait(&c->wake, &c->lock, deadline) != 0)
            return false;
    return *seq >= target;
}

char *con_collect_fresh_counts(con_collect *c, long timeout_s, size_t *len)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&c->lock);
    /* A round already running started before this request: wait for the next. */
    unsigned long slow_target = c->slow_seq + (c->slow_busy ? 2 : 1);
    c->kick_slow = true;
    pthread_cond_broadcast(&c->wake);
    bool ok = wait_seq(c, &c->slow_seq, slow_target, &deadline);
    if (ok) {
        unsigned long fast_target = c->rounds + (c->fast_busy ? 2 : 1);
        c->kick_fast = true;
        c->recount = true;
        pthread_cond_broadcast(&c->wake);
        ok = wait_seq(c, &c->rounds, fast_target, &deadline);
    }
    pthread_mutex_unlock(&c->lock);
    if (!ok) {
        *len = 0;
        return NULL;
    }
    return con_collect_counts(c, len);
}
