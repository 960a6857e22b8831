/* relay_emit: see relay_emit.h. */
#include "relay_emit.h"

#include "relay_avro.h"
#include "relay_wire.h"
#include "us_log.h"
#include "us_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct relay_emit {
    relay_emit_conf conf;
    relay_kafka *k;
    relay_ring *ring;
    relay_registry *reg;
    relay_stats *st;
    relay_pgoutput_relation *rel;        /* the table as of the last Relation */
    relay_pgoutput_relation *registered; /* columns of the registry's latest schema (startup) */
    relay_avro_kind *kinds;
    int32_t schema_id;
    bool have_schema;
    relay_txn *txn; /* open transaction, NULL outside one */
    uint64_t txn_id;
    int32_t seq;
    uint64_t delivered_before;
    bool dup_txn;
    bool purge_txn; /* the open transaction is a staging purge */
    uint64_t rows;
    bool warned_other;
    /* The change being emitted, when an attempt returned RELAY_EMIT_FULL:
     * its first queued_done records are in Kafka's queue already, and a
     * repeat (retrying) skips them. queued_seen counts this attempt's. */
    uint32_t queued_done, queued_seen;
    bool retrying;
    relay_buf key, val, unchanged;
};

relay_emit *relay_emit_new(const relay_emit_conf *conf, relay_kafka *k, relay_ring *ring,
                           relay_registry *reg, relay_stats *stats)
{
    relay_emit *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->conf = *conf;
    e->k = k;
    e->ring = ring;
    e->reg = reg;
    e->st = stats;
    return e;
}

void relay_emit_free(relay_emit *e)
{
    if (!e)
        return;
    relay_pgoutput_relation_free(e->rel);
    relay_pgoutput_relation_free(e->registered);
    free(e->kinds);
    relay_buf_free(&e->key);
    relay_buf_free(&e->val);
    relay_buf_free(&e->unchanged);
    free(e);
}

void relay_emit_on_delivery(void *ud, uint64_t txn_id, bool ok, size_t bytes, const char *errstr)
{
    relay_emit *e = ud;
    relay_txn *t = relay_ring_get(e->ring, txn_id);
    if (t && ok) {
        RELAY_STAT_ADD(e->st, rows_acked_total, 1);
        RELAY_STAT_ADD(e->st, bytes_acked_total, bytes);
        relay_stats_latency(e->st, (int64_t)us_wall_us() - t->commit_us);
    }
    if (!ok) {
        RELAY_STAT_ADD(e->st, delivery_errors_total, 1);
        us_error("kafka delivery failed (transaction %" PRIu64 "): %s", txn_id,
                 errstr ? errstr : "?");
    }
    if (relay_ring_delivered(e->ring, txn_id, ok) < 0)
        us_error("delivery report for unknown transaction %" PRIu64, txn_id);
}

int relay_emit_load_registered(relay_emit *e, char *err, size_t errlen)
{
    char *schema = NULL;
    int rc;
    rc = relay_registry_latest(e->reg, e->conf.subject, &schema, err, errlen);
    if (rc == RELAY_REG_TRANSIENT) {
        us_warn("schema registry: %s; retrying", err);
        return RELAY_EMIT_RETRY;
    }
    if (rc == RELAY_REG_NOT_FOUND)
        return RELAY_EMIT_OK;
    if (rc != RELAY_REG_OK)
        return RELAY_EMIT_ERROR;
    e->registered = relay_avro_relation_from_schema(schema, err, errlen);
    free(schema);
    return e->registered ? RELAY_EMIT_OK : RELAY_EMIT_ERROR;
}

void relay_emit_set_delivered_before(relay_emit *e, uint64_t lsn)
{
    e->delivered_before = lsn;
}

static bool is_our_table(const relay_emit *e, const relay_pgoutput_relation *r)
{
    return strcmp(r->nspname, e->conf.table_nsp) == 0 &&
           strcmp(r->relname, e->conf.table_name) == 0;
}

static bool same_shape(const relay_pgoutput_relation *a, const relay_pgoutput_relation *b)
{
    if (a->natts != b->natts)
        return false;
    for (uint16_t i = 0; i < a->natts; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) != 0 ||
            a->cols[i].type_oid != b->cols[i].type_oid || a->cols[i].key != b->cols[i].key)
            return false;
    return true;
}

/* Registers rel's schema; RELAY_EMIT_RETRY while the registry is unreachable. */
static int register_schema(relay_emit *e, const relay_pgoutput_relation *rel, char *err,
                           size_t errlen)
{
    char *json = relay_avro_schema_json(rel, err, errlen);
    int32_t id;
    int rc;
    if (!json)
        return RELAY_EMIT_ERROR;
    rc = relay_registry_register(e->reg, e->conf.subject, json, &id, err, errlen);
    free(json);
    if (rc == RELAY_REG_TRANSIENT) {
        us_warn("schema registry: %s; retrying", err);
        return RELAY_EMIT_RETRY;
    }
    if (rc != RELAY_REG_OK) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "the registry refused the schema of %s.%s for subject %s: %s",
                 rel->nspname, rel->relname, e->conf.subject, tmp);
        return RELAY_EMIT_REJECTED;
    }
    if (!e->have_schema || id != e->schema_id)
        us_info("schema of %s.%s registered under %s with id %d (%u columns)", rel->nspname,
                rel->relname, e->conf.subject, id, rel->natts);
    e->schema_id = id;
    e->have_schema = true;
    RELAY_STAT_ADD(e->st, schema_registrations_total, 1);
    return RELAY_EMIT_OK;
}

int relay_emit_relation(relay_emit *e, relay_pgoutput_relation *rel, char *err, size_t errlen)
{
    int rc;
    if (!is_our_table(e, rel)) {
        if (!e->warned_other)
            us_warn("ignoring relation %s.%s: the relay publishes %s.%s only", rel->nspname,
                    rel->relname, e->conf.table_nsp, e->conf.table_name);
        e->warned_other = true;
        relay_pgoutput_relation_free(rel);
        return RELAY_EMIT_OK;
    }
    if (e->rel && e->have_schema && same_shape(e->rel, rel)) {
        e->rel->oid = rel->oid;
        relay_pgoutput_relation_free(rel);
        return RELAY_EMIT_OK;
    }
    const relay_pgoutput_relation *before = e->rel ? e->rel : e->registered;
    if (before && relay_avro_check_change(before, rel, err, errlen) < 0) {
        relay_pgoutput_relation_free(rel);
        return RELAY_EMIT_INCOMPATIBLE;
    }
    relay_avro_kind *kinds = calloc(rel->natts ? rel->natts : 1, sizeof *kinds);
    if (!kinds) {
        relay_pgoutput_relation_free(rel);
        snprintf(err, errlen, "out of memory");
        return RELAY_EMIT_ERROR;
    }
    for (uint16_t i = 0; i < rel->natts; i++)
        kinds[i] = relay_avro_kind_of(rel->cols[i].type_oid);
    if ((rc = register_schema(e, rel, err, errlen)) != RELAY_EMIT_OK) {
        free(kinds);
        if (rc != RELAY_EMIT_RETRY) /* a retry comes back with rel */
            relay_pgoutput_relation_free(rel);
        return rc;
    }
    relay_pgoutput_relation_free(e->rel);
    free(e->kinds);
    e->rel = rel;
    e->kinds = kinds;
    return RELAY_EMIT_OK;
}

int relay_emit_begin(relay_emit *e, uint64_t commit_lsn, int64_t commit_ts_pg, uint32_t xid,
                     char *err, size_t errlen)
{
    relay_txn *t;
    if (e->txn) {
        snprintf(err, errlen, "Begin of xid %u inside the open transaction of xid %u", xid,
                 e->txn->xid);
        return RELAY_EMIT_ERROR;
    }
    if (!(t = relay_ring_open(e->ring, commit_lsn, relay_pg_to_unix_us(commit_ts_pg), xid)))
        return RELAY_EMIT_FULL;
    e->txn = t;
    e->txn_id = t->id;
    e->seq = 0;
    e->dup_txn = commit_lsn <= e->delivered_before;
    e->purge_txn = false;
    return RELAY_EMIT_OK;
}

bool relay_emit_in_txn(const relay_emit *e)
{
    return e->txn != NULL;
}

uint64_t relay_emit_rows(const relay_emit *e)
{
    return e->rows;
}

int relay_emit_commit(relay_emit *e, uint64_t commit_lsn, uint64_t end_lsn, char *err,
                      size_t errlen)
{
    relay_txn *t = e->txn ? relay_ring_get(e->ring, e->txn_id) : NULL;
    if (!t) {
        snprintf(err, errlen, "Commit at " RELAY_LSN_FMT " outside a transaction",
                 RELAY_LSN_ARGS(commit_lsn));
        return RELAY_EMIT_ERROR;
    }
    if (t->commit_lsn != commit_lsn) {
        snprintf(err, errlen,
                 "Commit LSN " RELAY_LSN_FMT " differs from its Begin's " RELAY_LSN_FMT,
                 RELAY_LSN_ARGS(commit_lsn), RELAY_LSN_ARGS(t->commit_lsn));
        return RELAY_EMIT_ERROR;
    }
    relay_ring_close(t, end_lsn);
    e->txn = NULL;
    return RELAY_EMIT_OK;
}

/* The Kafka key: the text of the key columns, joined with '|'. */
static int build_key(relay_emit *e, const relay_pgoutput_tuple *t, char *err, size_t errlen)
{
    bool first = true;
    relay_buf_reset(&e->key);
    for (uint16_t i = 0; i < e->rel->natts && i < t->natts; i++) {
        if (!e->rel->cols[i].key)
            continue;
        const relay_pgoutput_value *v = &t->vals[i];
        if (v->kind != 't') {
            snprintf(err, errlen, "key column \"%s\" has no text value (kind '%c')",
                     e->rel->cols[i].name, v->kind);
            return -1;
        }
        if (!first)
            relay_buf_append(&e->key, "|", 1);
        relay_buf_append(&e->key, v->data, v->len);
        first = false;
    }
    if (first) {
        snprintf(err, errlen, "%s.%s: no key column in the change", e->rel->nspname,
                 e->rel->relname);
        return -1;
    }
    return e->key.oom ? (snprintf(err, errlen, "out of memory"), -1) : 0;
}

/* Confluent framing, then the record: columns in table order, __op, __lsn,
 * __seq, __commit_ts. Unchanged TOAST values are encoded as null and named
 * in e->unchanged (header us.unchanged). */
static int build_value(relay_emit *e, char op, const relay_pgoutput_tuple *t, char *err,
                       size_t errlen)
{
    uint8_t frame[5] = {0};
    relay_put_u32(frame + 1, (uint32_t)e->schema_id);
    relay_buf_reset(&e->val);
    relay_buf_reset(&e->unchanged);
    relay_buf_append(&e->val, frame, 5);
    if (t->natts != e->rel->natts) {
        snprintf(err, errlen, "tuple has %u columns, relation %u", t->natts, e->rel->natts);
        return -1;
    }
    for (uint16_t i = 0; i < t->natts; i++) {
        const relay_pgoutput_value *v = &t->vals[i];
        if (v->kind == 't') {
            if (relay_avro_put_text(&e->val, e->kinds[i], v->data, v->len, err, errlen) < 0)
                return -1;
            continue;
        }
        if (v->kind == 'b') {
            snprintf(err, errlen, "column \"%s\": binary values are not requested",
                     e->rel->cols[i].name);
            return -1;
        }
        if (v->kind == 'u') {
            if (e->unchanged.len)
                relay_buf_append(&e->unchanged, ",", 1);
            relay_buf_append(&e->unchanged, e->rel->cols[i].name, strlen(e->rel->cols[i].name));
        }
        relay_avro_put_long(&e->val, 0); /* union branch 0: null */
    }
    relay_avro_put_string(&e->val, &op, 1);
    relay_avro_put_long(&e->val, (int64_t)e->txn->commit_lsn);
    relay_avro_put_long(&e->val, e->seq);
    relay_avro_put_long(&e->val, e->txn->commit_us);
    relay_buf_append(&e->unchanged, "", 1); /* NUL for the header text */
    if (e->val.oom || e->unchanged.oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Starts an attempt at one change (see queued_done). */
static void attempt_start(relay_emit *e)
{
    e->queued_seen = 0;
}

/* Ends an attempt: a full queue keeps what is queued for the repeat. */
static int attempt_end(relay_emit *e, int rc)
{
    e->retrying = rc == RELAY_EMIT_FULL;
    if (!e->retrying)
        e->queued_done = 0;
    return rc;
}

/* True when the next record of the change was queued by an earlier attempt. */
static bool queued_before(relay_emit *e)
{
    return e->queued_seen++ < e->queued_done;
}

/* Hands one record to the producer; RELAY_EMIT_FULL when its queue is full. */
static int produce(relay_emit *e, char op, const void *key, size_t keylen, const void *val,
                   size_t vlen, int32_t partition, char *err, size_t errlen)
{
    char opstr[2] = {op, 0}, lsn[24], seq[16], ts[24], xid[16];
    relay_header h[6] = {{"us.op", opstr},     {"us.lsn", lsn}, {"us.seq", seq},
                         {"us.commit_ts", ts}, {"us.xid", xid}, {"us.unchanged", NULL}};
    size_t nh = 5;
    snprintf(lsn, sizeof lsn, "%" PRIu64, e->txn->commit_lsn);
    snprintf(seq, sizeof seq, "%" PRId32, e->seq);
    snprintf(ts, sizeof ts, "%" PRId64, e->txn->commit_us);
    snprintf(xid, sizeof xid, "%" PRIu32, e->txn->xid);
    if (val && e->unchanged.len > 1) {
        h[5].value = (const char *)e->unchanged.data;
        nh = 6;
    }
    int rc =
        relay_kafka_produce(e->k, key, keylen, val, vlen, h, nh, partition, e->txn_id, err, errlen);
    if (rc == RELAY_KAFKA_FULL)
        return RELAY_EMIT_FULL;
    if (rc != RELAY_KAFKA_QUEUED)
        return rc == RELAY_KAFKA_TOO_LARGE ? RELAY_EMIT_TOO_LARGE : RELAY_EMIT_ERROR;
    e->queued_done++;
    relay_ring_sent(e->txn);
    e->rows++;
    RELAY_STAT_ADD(e->st, rows_total, 1);
    if (e->dup_txn)
        RELAY_STAT_ADD(e->st, duplicate_rows_total, 1);
    return RELAY_EMIT_OK;
}

/* A record takes the next us.seq once queued (a repeat keeps it). */
static int emit_row(relay_emit *e, char op, const relay_pgoutput_tuple *t, char *err, size_t errlen)
{
    if (queued_before(e))
        return RELAY_EMIT_OK;
    if (build_key(e, t, err, errlen) < 0 || build_value(e, op, t, err, errlen) < 0)
        return RELAY_EMIT_ERROR;
    int rc = produce(e, op, e->key.data, e->key.len, e->val.data, e->val.len, -1, err, errlen);
    if (rc == RELAY_EMIT_OK)
        e->seq++;
    return rc;
}

static int emit_tombstone(relay_emit *e, const relay_pgoutput_tuple *old, char *err, size_t errlen)
{
    if (queued_before(e))
        return RELAY_EMIT_OK;
    if (build_key(e, old, err, errlen) < 0)
        return RELAY_EMIT_ERROR;
    int rc = produce(e, 'd', e->key.data, e->key.len, NULL, 0, -1, err, errlen);
    if (rc == RELAY_EMIT_OK)
        e->seq++;
    return rc;
}

/* A truncate has no keys: one marker per partition (empty key, null value,
 * us.op "t"), so every consumer of every partition sees it in order. The key
 * is empty, not null: the users topic is compacted, and Kafka refuses records
 * without a key there; compaction keeps a partition's latest marker. */
static int emit_truncate(relay_emit *e, const relay_pgoutput_msg *m, char *err, size_t errlen)
{
    bool ours = false;
    for (uint32_t i = 0; i < m->u.truncate.nrelids; i++)
        ours |= e->rel && relay_pgoutput_truncate_relid(m, i) == e->rel->oid;
    if (!ours)
        return RELAY_EMIT_OK;
    if (!e->retrying)
        us_warn("TRUNCATE of %s.%s in xid %u: sending truncate markers to %d partitions",
                e->rel->nspname, e->rel->relname, e->txn->xid, e->conf.partitions);
    for (int32_t p = 0; p < e->conf.partitions; p++) {
        if (queued_before(e))
            continue;
        int rc = produce(e, 't', "", 0, NULL, 0, p, err, errlen);
        if (rc != RELAY_EMIT_OK)
            return rc;
    }
    e->seq++;
    return RELAY_EMIT_OK;
}

/* The key changed when the old key tuple differs from the new row's key. */
static bool key_changed(const relay_emit *e, const relay_pgoutput_tuple *old,
                        const relay_pgoutput_tuple *new)
{
    for (uint16_t i = 0; i < e->rel->natts && i < old->natts && i < new->natts; i++) {
        if (!e->rel->cols[i].key)
            continue;
        const relay_pgoutput_value *a = &old->vals[i], *b = &new->vals[i];
        if (a->kind != b->kind || a->len != b->len || (a->len && memcmp(a->data, b->data, a->len)))
            return true;
    }
    return false;
}

/* The tombstone of a forget message: its content is the key (a user id). */
static int emit_forget(relay_emit *e, const relay_pgoutput_msg *m, char *err, size_t errlen)
{
    uint32_t n = m->u.message.len;
    if (n == 0 || n > 64 || memchr(m->u.message.data, '|', n) || memchr(m->u.message.data, 0, n)) {
        us_warn("xid %u: ignoring a %s message whose content (%u bytes) is not a key", e->txn->xid,
                RELAY_FORGET_PREFIX, n);
        return RELAY_EMIT_OK;
    }
    if (!e->retrying)
        us_info("xid %u: forget message, publishing a tombstone", e->txn->xid);
    if (queued_before(e))
        return RELAY_EMIT_OK;
    int rc = produce(e, 'd', m->u.message.data, n, NULL, 0, -1, err, errlen);
    if (rc == RELAY_EMIT_OK)
        e->seq++;
    return rc;
}

int relay_emit_message(relay_emit *e, const relay_pgoutput_msg *m, char *err, size_t errlen)
{
    if (m->type != RELAY_PGOUTPUT_MESSAGE || !(m->u.message.flags & 1) || !e->txn)
        return RELAY_EMIT_OK; /* non-transactional messages carry nothing for us */
    if (strcmp(m->u.message.prefix, RELAY_FORGET_PREFIX) == 0) {
        attempt_start(e);
        return attempt_end(e, emit_forget(e, m, err, errlen));
    }
    if (strcmp(m->u.message.prefix, RELAY_PURGE_PREFIX) != 0)
        return RELAY_EMIT_OK;
    if (!e->purge_txn)
        us_info("xid %u is a staging purge: its deletes are not published", e->txn->xid);
    e->purge_txn = true;
    return RELAY_EMIT_OK;
}

static int emit_change(relay_emit *e, const relay_pgoutput_msg *m, char *err, size_t errlen)
{
    uint32_t relid = m->type == RELAY_PGOUTPUT_INSERT   ? m->u.insert.relid
                     : m->type == RELAY_PGOUTPUT_UPDATE ? m->u.update.relid
                     : m->type == RELAY_PGOUTPUT_DELETE ? m->u.del.relid
                                                        : 0;
    if (!e->txn) {
        snprintf(err, errlen, "'%c' change outside a transaction", m->type);
        return RELAY_EMIT_ERROR;
    }
    if (m->type == RELAY_PGOUTPUT_TRUNCATE)
        return emit_truncate(e, m, err, errlen);
    if (!e->rel || relid != e->rel->oid)
        return RELAY_EMIT_OK; /* another table's change (its Relation was ignored) */
    switch (m->type) {
    case RELAY_PGOUTPUT_INSERT:
        return emit_row(e, 'c', &m->u.insert.newtup, err, errlen);
    case RELAY_PGOUTPUT_UPDATE:
        if (m->u.update.old_kind && key_changed(e, &m->u.update.oldtup, &m->u.update.newtup)) {
            int rc = emit_tombstone(e, &m->u.update.oldtup, err, errlen);
            if (rc != RELAY_EMIT_OK)
                return rc;
        }
        return emit_row(e, 'u', &m->u.update.newtup, err, errlen);
    case RELAY_PGOUTPUT_DELETE:
        if (e->purge_txn) {
            RELAY_STAT_ADD(e->st, purged_rows_total, 1);
            return RELAY_EMIT_OK;
        }
        return emit_tombstone(e, &m->u.del.oldtup, err, errlen);
    default:
        snprintf(err, errlen, "'%c' is not a change", m->type);
        return RELAY_EMIT_ERROR;
    }
}

int relay_emit_change(relay_emit *e, const relay_pgoutput_msg *m, char *err, size_t errlen)
{
    attempt_start(e);
    return attempt_end(e, emit_change(e, m, err, errlen));
}

int relay_emit_snapshot_row(relay_emit *e, const relay_pgoutput_tuple *row, char *err,
                            size_t errlen)
{
    if (!e->txn || !e->rel) {
        snprintf(err, errlen, "snapshot row outside the snapshot");
        return RELAY_EMIT_ERROR;
    }
    attempt_start(e);
    int rc = attempt_end(e, emit_row(e, 'r', row, err, errlen));
    if (rc == RELAY_EMIT_OK)
        RELAY_STAT_ADD(e->st, snapshot_rows_total, 1);
    return rc;
}
