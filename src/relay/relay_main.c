/* userstream-relay: PostgreSQL -> Kafka change data capture.
 *
 * main only orchestrates: configuration, the one-time set-up (publication,
 * slot, initial snapshot), then relay_loop until a stop. The exit codes are
 * listed in src/relay/README.md and in --help. */
#include "relay_loop.h"
#include "relay_metrics.h"
#include "relay_repl.h"
#include "relay_slot.h"
#include "relay_snapshot.h"
#include "relay_stream_pq.h"
#include "relay_wire.h"
#include "us_config.h"
#include "us_log.h"
#include "us_util.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const us_option options[] = {
    {"US_BIND", NULL, 0, US_OPT_STRING, "127.0.0.1", "ADDR",
     "address of the local services (metrics listen here)"},
    {"US_PORT_OFFSET", NULL, 0, US_OPT_INT, "0", "N",
     "added to every *_PORT from the file or defaults (not to one from the environment)"},
    {"US_PG_HOST", "pg-host", 0, US_OPT_STRING, NULL, "HOST", "PostgreSQL host (default: US_BIND)"},
    {"US_PG_PORT", "pg-port", 0, US_OPT_INT, "5433", "PORT", "PostgreSQL port"},
    {"US_PG_DATABASE", "pg-database", 0, US_OPT_STRING, "userstream", "DB",
     "database of the staging table"},
    {"US_PG_RELAY_USER", "pg-user", 0, US_OPT_STRING, "relay", "ROLE",
     "role with REPLICATION and SELECT on the table"},
    {"US_RELAY_PG_CONNINFO", "pg-conninfo", 0, US_OPT_STRING, NULL, "CONNINFO",
     "a whole libpq connection string (overrides the four above)"},
    {"US_RELAY_TABLE", "table", 't', US_OPT_STRING, "staging.users", "SCHEMA.TABLE",
     "the table to publish"},
    {"US_RELAY_PUBLICATION", "publication", 0, US_OPT_STRING, "userstream_users", "NAME",
     "publication (created when missing)"},
    {"US_RELAY_SLOT", "slot", 'S', US_OPT_STRING, "userstream_relay", "NAME",
     "logical replication slot (created when missing)"},
    {"US_RELAY_SNAPSHOT", "snapshot", 0, US_OPT_STRING, "initial", "MODE",
     "initial: copy existing rows when the slot is created; never"},
    {"US_RELAY_STREAMING", "streaming", 0, US_OPT_BOOL, "true", NULL,
     "protocol 2 streaming of large in-progress transactions (PG 14+)"},
    {"US_HOME", NULL, 0, US_OPT_STRING, "~/.local/state/userstream", "DIR",
     "the stack's state directory (holds the default spool)"},
    {"US_RELAY_SPOOL_DIR", "spool-dir", 0, US_OPT_STRING, NULL, "DIR",
     "where streamed transactions wait for their commit, mode 0700 (default: "
     "US_HOME/relay/SLOT.spool)"},
    {"US_KAFKA_PORT", NULL, 0, US_OPT_INT, "9092", "PORT",
     "Kafka port (for the default bootstrap)"},
    {"US_KAFKA_BOOTSTRAP", "bootstrap", 'b', US_OPT_STRING, NULL, "HOST:PORT",
     "Kafka bootstrap servers (default: US_BIND:US_KAFKA_PORT)"},
    {"US_KAFKA_TOPIC_USERS", "topic", 0, US_OPT_STRING, "userstream.users", "TOPIC",
     "output topic"},
    {"US_RELAY_KAFKA_CONF", "kafka-conf", 'X', US_OPT_PAIRS, NULL, "K=V",
     "a librdkafka setting, passed as is (repeatable, as kcat -X; file/env: k=v,k=v); "
     "acks, idempotence, partitioner, retries and timeouts are the relay's own"},
    {"US_KAFKA_RELAY_CLIENT_FILE", "kafka-client-file", 0, US_OPT_STRING, NULL, "FILE",
     "librdkafka properties with the SASL credentials (mode 0600)"},
    {"US_REGISTRY_RELAY_CREDENTIALS", "registry-credentials", 0, US_OPT_STRING, NULL, "FILE",
     "registry basic-auth user:password file (mode 0600)"},
    {"US_RELAY_LINGER_MS", "linger-ms", 0, US_OPT_INT, "5", "MS",
     "producer linger.ms (batching vs latency)"},
    {"US_RELAY_QUEUE_MESSAGES", NULL, 0, US_OPT_INT, "100000", "N",
     "producer queue bound in messages (back-pressure)"},
    {"US_RELAY_QUEUE_KBYTES", NULL, 0, US_OPT_INT, "65536", "KB",
     "producer queue bound in kilobytes (back-pressure)"},
    {"US_RELAY_MESSAGE_TIMEOUT_MS", NULL, 0, US_OPT_INT, "0", "MS",
     "give up on a message after this; 0 never (an outage blocks)"},
    {"US_RELAY_MAX_INFLIGHT_TXNS", NULL, 0, US_OPT_INT, "100000", "N",
     "transactions in flight before reading stops"},
    {"US_REGISTRY_PORT", NULL, 0, US_OPT_INT, "8085", "PORT",
     "registry port (for the default URL)"},
    {"US_REGISTRY_URL", "registry", 'r', US_OPT_STRING, NULL, "URL",
     "Confluent-compatible API (default: http://US_BIND:US_REGISTRY_PORT/apis/ccompat/v7)"},
    {"US_RELAY_SUBJECT", "subject", 0, US_OPT_STRING, NULL, "SUBJECT",
     "schema subject (default: TOPIC-value)"},
    {"US_RELAY_METRICS_PORT", "metrics-port", 0, US_OPT_INT, "8102", "PORT",
     "Prometheus /metrics and /health; 0 off"},
    {"US_RELAY_STATUS_INTERVAL_MS", NULL, 0, US_OPT_INT, "10000", "MS",
     "status update to the server at least this often"},
    {"US_RELAY_FEEDBACK_MS", NULL, 0, US_OPT_INT, "200", "MS",
     "a new confirmed position is sent within this"},
    {"US_RELAY_HEARTBEAT_MS", NULL, 0, US_OPT_INT, "10000", "MS",
     "when idle, confirm the server's WAL end this often; 0 off"},
    {"US_RELAY_STOP_TIMEOUT_MS", NULL, 0, US_OPT_INT, "30000", "MS",
     "on stop, wait this long for Kafka"},
    {"US_RELAY_RECEIVE_TIMEOUT_MS", NULL, 0, US_OPT_INT, "-1", "MS",
     "no message from PostgreSQL for this long = connection lost (exit 1); -1: 2 x the server's "
     "wal_sender_timeout; 0 off"},
    {"US_RELAY_MAX_ROWS", "max-rows", 0, US_OPT_INT, "0", "N",
     "stop after the transaction that reaches N records; 0 never"},
    {"US_RELAY_END_LSN", "end-lsn", 0, US_OPT_STRING, NULL, "LSN",
     "stop once a commit ends at or past LSN (X/X)"},
};

static const us_program program = {
    "userstream-relay",
    "PostgreSQL -> Kafka change data capture (pgoutput, Avro, schema registry)",
    "[OPTION]...",
    "Exit codes: 0 stopped cleanly (signal, --max-rows, --end-lsn); 1 runtime error;\n"
    "2 usage or configuration error; 3 replication slot lost or invalidated (re-snapshot\n"
    "needed, never re-created silently); 4 incompatible table change; 5 Kafka delivery\n"
    "failed; 6 the schema registry refused the schema; 7 another relay holds the slot;\n"
    "8 a record larger than Kafka takes (never delivered, the slot stays before it).\n",
};

/* Everything main derives from the configuration. */
typedef struct relay_settings {
    char conninfo[1024];
    char bootstrap[512];
    char registry[512];
    char subject[512];
    char nsp[128], rel[128];
    char spool[1024];
    const char *table, *pub, *slot, *topic, *bind;
    bool snapshot, streaming;
    long metrics_port, max_inflight, fetch_rows;
    relay_kafka_conf kconf;
    char kafka_extra_buf[2048];
    const char *kafka_extra[2 * 32 + 1];
    const char *registry_credentials;
    relay_loop_opts lopts;
} relay_settings;

static int get_long(us_config *c, const char *key, long min, long max, long *out, char *err,
                    size_t errlen)
{
    return us_config_get_int(c, key, min, max, out, err, errlen);
}

/* A port; us_config has already added US_PORT_OFFSET to ports from the file
 * or defaults, the rule of stack/lib/config.sh. */
static int get_port(us_config *c, const char *key, long *out, char *err, size_t errlen)
{
    return get_long(c, key, 0, 65535, out, err, errlen);
}

static const char *get_or(us_config *c, const char *key, const char *def)
{
    const char *v = us_config_get(c, key);
    return v && *v ? v : def;
}

static int split_table(relay_settings *s, char *err, size_t errlen)
{
    const char *dot = strchr(s->table, '.');
    if (!dot || dot == s->table || !dot[1] || strchr(dot + 1, '.') || strpbrk(s->table, "\"; ")) {
        snprintf(err, errlen, "US_RELAY_TABLE \"%s\" must be schema.table (plain identifiers)",
                 s->table);
        return -1;
    }
    snprintf(s->nsp, sizeof s->nsp, "%.*s", (int)(dot - s->table), s->table);
    snprintf(s->rel, sizeof s->rel, "%s", dot + 1);
    return 0;
}

static int read_numbers(us_config *c, relay_settings *s, char *err, size_t errlen)
{
    long max_rows, q, qk, mt, linger;
    relay_loop_opts *o = &s->lopts;
    bool ok =
        get_port(c, "US_RELAY_METRICS_PORT", &s->metrics_port, err, errlen) == 0 &&
        get_long(c, "US_RELAY_MAX_INFLIGHT_TXNS", 1, 10000000, &s->max_inflight, err, errlen) ==
            0 &&
        get_long(c, "US_RELAY_LINGER_MS", 0, 60000, &linger, err, errlen) == 0 &&
        get_long(c, "US_RELAY_QUEUE_MESSAGES", 1, 10000000, &q, err, errlen) == 0 &&
        get_long(c, "US_RELAY_QUEUE_KBYTES", 1, 2097151, &qk, err, errlen) == 0 &&
        get_long(c, "US_RELAY_MESSAGE_TIMEOUT_MS", 0, 2147483647, &mt, err, errlen) == 0 &&
        get_long(c, "US_RELAY_STATUS_INTERVAL_MS", 100, 3600000, &o->status_interval_ms, err,
                 errlen) == 0 &&
        get_long(c, "US_RELAY_FEEDBACK_MS", 0, 3600000, &o->feedback_ms, err, errlen) == 0 &&
        get_long(c, "US_RELAY_HEARTBEAT_MS", 0, 3600000, &o->heartbeat_ms, err, errlen) == 0 &&
        get_long(c, "US_RELAY_STOP_TIMEOUT_MS", 0, 3600000, &o->stop_timeout_ms, err, errlen) ==
            0 &&
        get_long(c, "US_RELAY_RECEIVE_TIMEOUT_MS", -1, 86400000, &o->receive_timeout_ms, err,
                 errlen) == 0 &&
        get_long(c, "US_RELAY_MAX_ROWS", 0, 0x7fffffffffffffffL, &max_rows, err, errlen) == 0;
    if (!ok)
        return -1;
    o->max_rows = (uint64_t)max_rows;
    s->kconf.linger_ms = linger;
    s->kconf.queue_max_messages = q;
    s->kconf.queue_max_kbytes = qk;
    s->kconf.message_timeout_ms = mt;
    s->fetch_rows = 10000;
    const char *end = us_config_get(c, "US_RELAY_END_LSN");
    if (end && *end && relay_lsn_parse(end, &o->end_lsn) < 0) {
        snprintf(err, errlen, "--end-lsn \"%s\" is not an LSN like 0/16B3748", end);
        return -1;
    }
    return 0;
}

/* Defaults -> file -> environment -> flags are merged by us_config; here the
 * derived addresses are filled in and every value is checked once. */
static int settings_load(us_config *c, relay_settings *s, char *err, size_t errlen)
{
    long pgport, kport, rport;
    const char *mode;
    memset(s, 0, sizeof *s);
    if (read_numbers(c, s, err, errlen) < 0 ||
        get_port(c, "US_PG_PORT", &pgport, err, errlen) < 0 ||
        get_port(c, "US_KAFKA_PORT", &kport, err, errlen) < 0 ||
        get_port(c, "US_REGISTRY_PORT", &rport, err, errlen) < 0)
        return -1;
    s->bind = get_or(c, "US_BIND", "127.0.0.1");
    s->table = get_or(c, "US_RELAY_TABLE", "staging.users");
    s->pub = get_or(c, "US_RELAY_PUBLICATION", "userstream_users");
    s->slot = get_or(c, "US_RELAY_SLOT", "userstream_relay");
    s->topic = get_or(c, "US_KAFKA_TOPIC_USERS", "userstream.users");
    if (us_config_get_bool(c, "US_RELAY_STREAMING", &s->streaming, err, errlen) < 0 ||
        split_table(s, err, errlen) < 0)
        return -1;
    mode = get_or(c, "US_RELAY_SNAPSHOT", "initial");
    if (strcmp(mode, "initial") != 0 && strcmp(mode, "never") != 0) {
        snprintf(err, errlen, "US_RELAY_SNAPSHOT must be initial or never, not \"%s\"", mode);
        return -1;
    }
    s->snapshot = strcmp(mode, "initial") == 0;
    if (us_config_get(c, "US_RELAY_PG_CONNINFO") && *us_config_get(c, "US_RELAY_PG_CONNINFO"))
        snprintf(s->conninfo, sizeof s->conninfo, "%s", us_config_get(c, "US_RELAY_PG_CONNINFO"));
    else
        snprintf(s->conninfo, sizeof s->conninfo, "host=%s port=%ld dbname=%s user=%s",
                 get_or(c, "US_PG_HOST", s->bind), pgport,
                 get_or(c, "US_PG_DATABASE", "userstream"), get_or(c, "US_PG_RELAY_USER", "relay"));
    snprintf(s->bootstrap, sizeof s->bootstrap, "%s", get_or(c, "US_KAFKA_BOOTSTRAP", ""));
    if (!s->bootstrap[0])
        snprintf(s->bootstrap, sizeof s->bootstrap, "%s:%ld", s->bind, kport);
    snprintf(s->registry, sizeof s->registry, "%s", get_or(c, "US_REGISTRY_URL", ""));
    if (!s->registry[0])
        snprintf(s->registry, sizeof s->registry, "http://%s:%ld/apis/ccompat/v7", s->bind, rport);
    snprintf(s->subject, sizeof s->subject, "%s", get_or(c, "US_RELAY_SUBJECT", ""));
    if (!s->subject[0])
        snprintf(s->subject, sizeof s->subject, "%s-value", s->topic);
    /* Never a predictable /tmp name: the spool holds row values (PII). */
    if (get_or(c, "US_RELAY_SPOOL_DIR", NULL))
        snprintf(s->spool, sizeof s->spool, "%s", get_or(c, "US_RELAY_SPOOL_DIR", NULL));
    else
        snprintf(s->spool, sizeof s->spool, "%s/relay/%s.spool", get_or(c, "US_HOME", "."),
                 s->slot);
    s->kconf.bootstrap = s->bootstrap;
    s->kconf.topic = s->topic;
    if (us_config_get_pairs(c, "US_RELAY_KAFKA_CONF", s->kafka_extra, 32, s->kafka_extra_buf,
                            sizeof s->kafka_extra_buf, err, errlen) < 0)
        return -1;
    s->kconf.extra = s->kafka_extra;
    s->kconf.client_file = us_config_get(c, "US_KAFKA_RELAY_CLIENT_FILE");
    s->registry_credentials = us_config_get(c, "US_REGISTRY_RELAY_CREDENTIALS");
    return 0;
}

/* Set-up steps return GO_ON, or the exit code to stop with. */
#define GO_ON (-1)

/* Everything the run owns, freed in one place. */
typedef struct relay_run {
    relay_settings s;
    relay_stats stats;
    PGconn *sql, *repl;
    relay_stream *stream; /* repl once streaming */
    relay_kafka *k;
    relay_registry *reg;
    relay_ring *ring;
    relay_spool *spool;
    relay_emit *e;
    relay_loop *loop;
    relay_metrics *http;
    char err[1024];
} relay_run;

static void run_free(relay_run *r)
{
    relay_metrics_stop(r->http);
    relay_loop_free(r->loop);
    relay_emit_free(r->e);
    relay_spool_free(r->spool);
    relay_kafka_free(r->k);
    relay_ring_free(r->ring);
    relay_registry_free(r->reg);
    relay_stream_free(r->stream);
    PQfinish(r->repl);
    PQfinish(r->sql);
}

/* Retries a transient start-up step (a broker or registry still starting)
 * with a capped backoff until it works or a stop is requested. */
static int sleep_backoff(int attempt)
{
    int ms = attempt < 6 ? 250 << attempt : 10000;
    for (int waited = 0; waited < ms && !stop_requested; waited += 50)
        usleep(50000);
    return stop_requested ? -1 : 0;
}

static int setup_outputs(relay_run *r)
{
    relay_settings *s = &r->s;
    int32_t parts = 0;
    if (!(r->k = relay_kafka_new(&s->kconf, r->err, sizeof r->err)))
        return RELAY_EXIT_USAGE;
    for (int a = 0; relay_kafka_partition_count(r->k, 5000, &parts, r->err, sizeof r->err) < 0;
         a++) {
        us_warn("%s; waiting for Kafka", r->err);
        if (sleep_backoff(a) < 0)
            return RELAY_EXIT_OK;
    }
    r->err[0] = '\0';
    if (!(r->reg = relay_registry_new(s->registry, 10000)) ||
        !(r->ring = relay_ring_new((size_t)s->max_inflight)) ||
        !(r->spool = relay_spool_new(s->spool, r->err, sizeof r->err))) {
        if (!r->err[0])
            snprintf(r->err, sizeof r->err, "out of memory");
        return RELAY_EXIT_ERROR;
    }
    if (s->registry_credentials && *s->registry_credentials &&
        relay_registry_set_credentials_file(r->reg, s->registry_credentials, r->err,
                                            sizeof r->err) < 0)
        return RELAY_EXIT_USAGE;
    for (int a = 0;; a++) {
        int rc = relay_registry_set_compat(r->reg, s->subject, "BACKWARD", r->err, sizeof r->err);
        if (rc == RELAY_REG_OK)
            break;
        if (rc != RELAY_REG_TRANSIENT)
            return RELAY_EXIT_REGISTRY;
        us_warn("schema registry %s: %s; retrying", s->registry, r->err);
        if (sleep_backoff(a) < 0)
            return RELAY_EXIT_OK;
    }
    relay_emit_conf ec = {s->nsp, s->rel, s->subject, parts};
    if (!(r->e = relay_emit_new(&ec, r->k, r->ring, r->reg, &r->stats)) ||
        !(r->loop =
              relay_loop_new(&s->lopts, r->e, r->k, r->ring, r->spool, &r->stats, &stop_requested)))
        return snprintf(r->err, sizeof r->err, "out of memory"), RELAY_EXIT_ERROR;
    int rc;
    do
        rc = relay_emit_load_registered(r->e, r->err, sizeof r->err);
    while (relay_loop_retry(r->loop, &rc));
    return rc == RELAY_EMIT_OK     ? GO_ON
           : rc == RELAY_EMIT_STOP ? RELAY_EXIT_OK
                                   : RELAY_EXIT_REGISTRY;
}

/* A connection, retried with a capped backoff (logged) while the server is
 * down, starting or in recovery (a restart, a failover); a server that
 * answers but refuses us (password, database) is an error at once. */
static PGconn *connect_retry(relay_run *r, bool replication)
{
    PGconn *c;
    for (int a = 0; !(c = relay_pg_connect(r->s.conninfo, replication, r->err, sizeof r->err));
         a++) {
        PGPing ping = PQping(r->s.conninfo);
        if (ping == PQPING_OK || ping == PQPING_NO_ATTEMPT)
            return NULL;
        us_warn("%s; PostgreSQL is not accepting connections, retrying (attempt %d)", r->err,
                a + 1);
        if (sleep_backoff(a) < 0)
            return NULL;
    }
    return c;
}

/* relay_slot_verdict -> the exit code to stop with, or GO_ON. */
static int slot_exit(relay_slot_verdict v)
{
    switch (v) {
    case RELAY_SLOT_GO:
        return GO_ON;
    case RELAY_SLOT_BUSY:
        return RELAY_EXIT_SLOT_BUSY;
    case RELAY_SLOT_IS_LOST:
        return RELAY_EXIT_SLOT_LOST;
    case RELAY_SLOT_STOPPED:
        return RELAY_EXIT_OK;
    default:
        return RELAY_EXIT_ERROR;
    }
}

/* The server's wal_sender_timeout: the receive timeout is twice it (no
 * message at all, not even a keepalive, for that long = the link is dead). */
static void set_receive_timeout(relay_run *r)
{
    PGresult *res =
        PQexec(r->sql, "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_sender_timeout'");
    long ms = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                  ? atol(PQgetvalue(res, 0, 0))
                  : 60000;
    PQclear(res);
    if (r->s.lopts.receive_timeout_ms < 0)
        r->s.lopts.receive_timeout_ms = 2 * ms; /* 0 (the server's timeout off): none */
    if (r->loop)
        relay_loop_set_receive_timeout(r->loop, r->s.lopts.receive_timeout_ms);
}

/* The slot exists and is usable, or is created now (with its snapshot). */
static int setup_slot(relay_run *r, relay_slot_info *info, bool *fresh, uint64_t *start, char *snap,
                      size_t snaplen)
{
    relay_settings *s = &r->s;
    int rc;
    if (!(r->sql = connect_retry(r, false)))
        return stop_requested ? RELAY_EXIT_OK : RELAY_EXIT_ERROR;
    if ((rc = slot_exit(
             relay_slot_acquire(r->sql, s->slot, sleep_backoff, r->err, sizeof r->err))) != GO_ON)
        return rc;
    set_receive_timeout(r);
    if (relay_publication_ensure(r->sql, s->pub, s->table, r->err, sizeof r->err) < 0)
        return RELAY_EXIT_ERROR;
    if ((rc = slot_exit(
             relay_slot_check(r->sql, s->slot, s->snapshot, info, r->err, sizeof r->err))) != GO_ON)
        return rc;
    if (!(r->repl = connect_retry(r, true)))
        return stop_requested ? RELAY_EXIT_OK : RELAY_EXIT_ERROR;
    *fresh = info->state == RELAY_SLOT_MISSING;
    *start = info->confirmed_flush;
    if (*fresh) {
        if (s->snapshot && relay_snapshot_pending_set(r->sql, s->slot, r->err, sizeof r->err) < 0)
            return RELAY_EXIT_ERROR;
        if (relay_slot_create(r->repl, s->slot, start, snap, snaplen, r->err, sizeof r->err) < 0)
            return RELAY_EXIT_ERROR;
        us_info("created slot \"%s\" at " RELAY_LSN_FMT, s->slot, RELAY_LSN_ARGS(*start));
    }
    return GO_ON;
}

/* The initial snapshot, delivered and recorded before streaming starts. */
static int run_snapshot(relay_run *r, uint64_t lsn, const char *snap)
{
    relay_settings *s = &r->s;
    RELAY_STAT_SET(&r->stats, state, RELAY_STATE_SNAPSHOT);
    int rc = relay_snapshot_run(r->sql, snap, s->table, lsn, r->e, r->loop, s->fetch_rows, r->err,
                                sizeof r->err);
    if (rc == RELAY_EMIT_STOP)
        return RELAY_EXIT_OK; /* the slot stays without a finished snapshot: redone next start */
    if (rc != RELAY_EMIT_OK)
        return rc == RELAY_EMIT_INCOMPATIBLE ? RELAY_EXIT_INCOMPATIBLE
               : rc == RELAY_EMIT_REJECTED   ? RELAY_EXIT_REGISTRY
               : rc == RELAY_EMIT_TOO_LARGE  ? RELAY_EXIT_TOO_LARGE
                                             : RELAY_EXIT_ERROR;
    while (relay_ring_count(r->ring) > 0)
        if (relay_loop_wait(r->loop, 100) < 0)
            return stop_requested                                       ? RELAY_EXIT_OK
                   : relay_kafka_too_large(r->k, r->err, sizeof r->err) ? RELAY_EXIT_TOO_LARGE
                                                                        : RELAY_EXIT_KAFKA;
    if (relay_snapshot_done_set(r->sql, s->slot, lsn, r->err, sizeof r->err) < 0)
        return RELAY_EXIT_ERROR;
    us_info("snapshot delivered: %llu rows",
            (unsigned long long)RELAY_STAT_GET(&r->stats, snapshot_rows_total));
    return GO_ON;
}

/* START_REPLICATION, retried while an old walsender still holds the slot. */
static int start_streaming(relay_run *r)
{
    relay_settings *s = &r->s;
    int proto = s->streaming && PQserverVersion(r->repl) >= 140000 ? 2 : 1;
    for (int a = 0;; a++) {
        if (relay_repl_start(r->repl, s->slot, s->pub, proto, r->err, sizeof r->err) == 0)
            break;
        if (!strstr(r->err, "is active for PID") || a >= 12)
            return RELAY_EXIT_ERROR;
        us_warn("%s; retrying", r->err);
        if (sleep_backoff(a) < 0)
            return RELAY_EXIT_OK;
    }
    us_info("streaming from slot \"%s\" (protocol %d%s) to %s", s->slot, proto,
            proto >= 2 ? ", streaming on" : "", s->topic);
    return GO_ON;
}

/* A stop that needs a person (supervisord does not restart it) is recorded
 * in ops.relay_stops for the console and alerting: the slot, the exit code
 * and the reason (never a row value). Cleared once the relay streams again. */
static void record_stop(relay_run *r, int code)
{
    char c[8];
    const char *p[] = {r->s.slot, c,
                       r->err[0] || !r->loop ? r->err : relay_loop_last_error(r->loop)};
    snprintf(c, sizeof c, "%d", code);
    if (!r->sql || PQstatus(r->sql) != CONNECTION_OK)
        return;
    PGresult *res = PQexecParams(
        r->sql,
        "INSERT INTO ops.relay_stops (slot_name, exit_code, reason) VALUES ($1, $2, $3) "
        "ON CONFLICT (slot_name) DO UPDATE SET exit_code = EXCLUDED.exit_code, "
        "reason = EXCLUDED.reason, stopped_at = now()",
        3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        us_warn("could not record the stop in ops.relay_stops: %s", PQerrorMessage(r->sql));
    PQclear(res);
}

static void clear_stop(relay_run *r)
{
    const char *p[] = {r->s.slot};
    PGresult *res = PQexecParams(r->sql, "DELETE FROM ops.relay_stops WHERE slot_name = $1", 1,
                                 NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        us_warn("ops.relay_stops: %s", PQerrorMessage(r->sql));
    PQclear(res);
}

static int run(relay_run *r)
{
    relay_slot_info info;
    bool fresh;
    uint64_t start;
    char snap[128] = "";
    int rc;
    if ((rc = setup_outputs(r)) != GO_ON ||
        (rc = setup_slot(r, &info, &fresh, &start, snap, sizeof snap)) != GO_ON)
        return rc;
    if (fresh && r->s.snapshot && (rc = run_snapshot(r, start, snap)) != GO_ON)
        return rc;
    if (r->s.lopts.max_rows && relay_emit_rows(r->e) >= r->s.lopts.max_rows)
        return RELAY_EXIT_OK; /* --max-rows reached by the snapshot alone */
    if (!fresh) {
        uint64_t before = 0;
        if (relay_kafka_last_lsn(r->k, 10000, &before, r->err, sizeof r->err) < 0)
            us_warn("restart duplicates will not be counted: %s", r->err);
        relay_emit_set_delivered_before(r->e, before);
        us_info("resuming slot \"%s\" at " RELAY_LSN_FMT " (Kafka has commits up to " RELAY_LSN_FMT
                ")",
                r->s.slot, RELAY_LSN_ARGS(start), RELAY_LSN_ARGS(before));
    }
    r->err[0] = '\0'; /* from here on the loop reports its own errors */
    relay_loop_set_flushed(r->loop, start);
    if ((rc = start_streaming(r)) != GO_ON)
        return rc;
    clear_stop(r);
    if (!(r->stream = relay_stream_pq_new(r->repl)))
        return snprintf(r->err, sizeof r->err, "out of memory"), RELAY_EXIT_ERROR;
    rc = relay_loop_run(r->loop, r->stream);
    return rc;
}

int main(int argc, char **argv)
{
    relay_run r;
    int first, code;
    char err[1024];
    memset(&r, 0, sizeof r);
    us_log_set_program("userstream-relay");
    us_config *cfg = us_config_new(options, US_ARRAY_LEN(options));
    if (!cfg)
        return RELAY_EXIT_ERROR;
    int prc = us_config_parse_args(cfg, &program, argc, argv, &first, err, sizeof err);
    if (prc != US_PARSE_OK || first < argc || settings_load(cfg, &r.s, err, sizeof err) < 0) {
        if (prc == US_PARSE_EXIT) {
            us_config_free(cfg);
            return RELAY_EXIT_OK;
        }
        if (prc == US_PARSE_OK && first < argc)
            snprintf(err, sizeof err, "unexpected argument \"%s\"", argv[first]);
        fprintf(stderr,
                "userstream-relay: %s\nTry \"userstream-relay --help\" for more information.\n",
                err);
        us_config_free(cfg);
        return RELAY_EXIT_USAGE;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r.stats.start_unix = us_wall_us() / 1000000;
    r.http = relay_metrics_start(&r.stats, r.s.bind, (int)r.s.metrics_port, err, sizeof err);
    if (!r.http && r.s.metrics_port) {
        fprintf(stderr, "userstream-relay: %s\n", err);
        code = RELAY_EXIT_USAGE;
    } else {
        code = run(&r);
        if (code == GO_ON)
            code = RELAY_EXIT_OK;
        if (code != RELAY_EXIT_OK && r.err[0])
            us_error("%s", r.err);
        if (code == RELAY_EXIT_TOO_LARGE || code == RELAY_EXIT_SLOT_LOST ||
            code == RELAY_EXIT_INCOMPATIBLE || code == RELAY_EXIT_REGISTRY)
            record_stop(&r, code);
        RELAY_STAT_SET(&r.stats, state,
                       code == RELAY_EXIT_OK ? RELAY_STATE_STOPPING : RELAY_STATE_FAILED);
        if (r.loop)
            relay_loop_drain(r.loop);
    }
    run_free(&r);
    us_config_free(cfg);
    curl_global_cleanup();
    us_info("exit %d", code);
    return code;
}
