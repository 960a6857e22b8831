/* Unit tests of the pgoutput decoder on byte streams recorded from a real
 * PostgreSQL 15 with pg_recvlogical (relay_fixtures/README.md), and on
 * hand-made malformed messages (reliability.md §5, test 21). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_pgoutput.h"
#include "relay_repl.h"
#include "relay_spool.h"
#include "relay_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int count[256];
    int inserts_in_stream;
    uint32_t relid;
    char first_key[64];
    char first_name[32];
    int unchanged;
    int key_updates;
    /* logical decoding messages (lifecycle fixture) */
    int purge_msgs, forget_msgs, nontx_msgs, msgs_in_stream;
    char forget_key[64];
} tally;

static void tally_message(tally *t, const relay_pgoutput_msg *m)
{
    if (m->has_xid)
        t->msgs_in_stream++;
    if (!(m->u.message.flags & 1)) {
        t->nontx_msgs++;
        return;
    }
    if (strcmp(m->u.message.prefix, "userstream.purge") == 0)
        t->purge_msgs++;
    if (strcmp(m->u.message.prefix, "userstream.forget") == 0) {
        t->forget_msgs++;
        snprintf(t->forget_key, sizeof t->forget_key, "%.*s", (int)m->u.message.len,
                 (const char *)m->u.message.data);
    }
}

/* pg_recvlogical writes each message followed by '\n'; the decoder says
 * where a message ends, and the newline must be exactly there. */
static void walk(const char *file, tally *t)
{
    size_t len, at = 0;
    uint8_t *b = relay_test_fixture(file, &len);
    relay_pgoutput_decoder *d = relay_pgoutput_decoder_new();
    char err[256];
    memset(t, 0, sizeof *t);
    while (at < len) {
        relay_pgoutput_msg m;
        size_t used;
        int rc = relay_pgoutput_decode(d, b + at, len - at, &m, &used, err, sizeof err);
        if (rc != 0)
            fail_msg("%s at offset %zu: %s", file, at, err);
        assert_true(at + used < len);
        assert_int_equal(b[at + used], '\n');
        t->count[(uint8_t)m.type]++;
        if (m.type == RELAY_PGOUTPUT_RELATION) {
            assert_string_equal(m.u.relation->nspname, "staging");
            assert_string_equal(m.u.relation->relname, "users");
            assert_true(m.u.relation->cols[0].key);
            assert_string_equal(m.u.relation->cols[0].name, "user_id");
            assert_int_equal(m.u.relation->cols[0].type_oid, 2950);
            t->relid = m.u.relation->oid;
            relay_pgoutput_relation_free(m.u.relation);
        }
        if (m.type == RELAY_PGOUTPUT_INSERT) {
            assert_int_equal(m.u.insert.relid, t->relid);
            if (m.has_xid)
                t->inserts_in_stream++;
            if (!t->first_key[0]) {
                relay_pgoutput_value *v = &m.u.insert.newtup.vals[0];
                snprintf(t->first_key, sizeof t->first_key, "%.*s", (int)v->len,
                         (const char *)v->data);
                v = &m.u.insert.newtup.vals[3];
                snprintf(t->first_name, sizeof t->first_name, "%.*s", (int)v->len,
                         (const char *)v->data);
            }
        }
        if (m.type == RELAY_PGOUTPUT_UPDATE && m.u.update.old_kind == 'K')
            t->key_updates++;
        if (m.type == RELAY_PGOUTPUT_MESSAGE)
            tally_message(t, &m);
        at += used + 1;
    }
    assert_int_equal(at, len);
    relay_pgoutput_decoder_free(d);
    free(b);
}

static void test_v1_fixture(void **state)
{
    tally t;
    walk("pgoutput_v1.bin", &t);
    /* workload.sql: 8 transactions with changes; big_transactions.sql: one
     * committed (500 rows, the rolled-back savepoint's 300 not sent), one
     * rolled back (not sent at all in protocol 1). */
    assert_int_equal(t.count['B'], 9);
    assert_int_equal(t.count['C'], 9);
    assert_int_equal(t.count['I'], 504);
    assert_int_equal(t.count['U'], 4);
    assert_int_equal(t.count['D'], 1);
    assert_int_equal(t.count['T'], 1);
    assert_int_equal(t.count['S'], 0);
    assert_int_equal(t.key_updates, 1);
    assert_string_equal(t.first_key, "7a0eed16-9430-4d68-901f-c0d4c1c3bf00");
    assert_string_equal(t.first_name, "Zo\xc3\xab");
}

static void test_v2_streaming_fixture(void **state)
{
    tally t;
    walk("pgoutput_v2_streaming.bin", &t);
    /* The two big transactions exceed logical_decoding_work_mem (64kB) and
     * are streamed: one committed ('c'), one aborted ('A'), plus the abort
     * of the rolled-back savepoint. */
    assert_int_equal(t.count['c'], 1);
    assert_true(t.count['A'] >= 2);
    assert_int_equal(t.count['S'], t.count['E']);
    assert_true(t.count['S'] >= 2);
    assert_true(t.inserts_in_stream >= 800);
    assert_int_equal(t.count['B'], 8);
    assert_int_equal(t.count['C'], 8);
}

/* lifecycle.sql with messages=true: the purge and forget messages arrive in
 * their transactions, the big purge's inside its stream block. */
static void test_v2_lifecycle_fixture(void **state)
{
    tally t;
    walk("pgoutput_v2_lifecycle.bin", &t);
    assert_int_equal(t.count['M'], 4);
    assert_int_equal(t.purge_msgs, 2);
    assert_int_equal(t.forget_msgs, 1);
    assert_string_equal(t.forget_key, "40000000-0000-4000-8000-000000000001");
    assert_int_equal(t.nontx_msgs, 1);
    assert_int_equal(t.msgs_in_stream, 1);
    assert_int_equal(t.count['c'], 2);           /* the big insert and the big purge */
    assert_int_equal(t.count['D'], 2 + 1 + 600); /* decoded: the relay decides */
}

static int decode_bytes(const uint8_t *b, size_t n, bool stream)
{
    relay_pgoutput_decoder *d = relay_pgoutput_decoder_new();
    relay_pgoutput_msg m;
    size_t used;
    char err[256];
    relay_pgoutput_decoder_set_streaming(d, stream);
    int rc = relay_pgoutput_decode(d, b, n, &m, &used, err, sizeof err);
    if (rc == 0 && m.type == RELAY_PGOUTPUT_RELATION)
        relay_pgoutput_relation_free(m.u.relation);
    relay_pgoutput_decoder_free(d);
    return rc;
}

/* Malicious peers (test 21): counts and lengths beyond the buffer, unknown
 * kinds and types, truncation at every byte. */
static void test_malformed(void **state)
{
    const uint8_t natts_huge[] = {'I', 0, 0, 0, 1, 'N', 0xff, 0xff};
    const uint8_t natts_many[] = {'I', 0, 0, 0, 1, 'N', 0x00, 0x10, 'n'};
    const uint8_t len_huge[] = {'I', 0, 0, 0, 1, 'N', 0, 1, 't', 0x7f, 0xff, 0xff, 0xff, 'a'};
    const uint8_t kind_bad[] = {'I', 0, 0, 0, 1, 'N', 0, 1, 'x'};
    const uint8_t trunc_many[] = {'T', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1};
    const uint8_t rel_huge[] = {'R', 0, 0, 0, 1, 's', 0, 'u', 0, 'd', 0xff, 0xff};
    const uint8_t rel_noterm[] = {'R', 0, 0, 0, 1, 's', 'u'};
    const uint8_t unknown[] = {'Z'};
    const uint8_t stop_outside[] = {'E'};
    const uint8_t msg_noterm[] = {'M', 1, 0, 0, 0, 0, 0, 0, 0, 1, 'u', 's'};
    const uint8_t msg_len_huge[] = {'M', 1,   0, 0,    0,    0,    0,    0,  0,
                                    1,   'p', 0, 0x7f, 0xff, 0xff, 0xff, 'a'};
    assert_int_equal(decode_bytes(natts_huge, sizeof natts_huge, false), -1);
    assert_int_equal(decode_bytes(natts_many, sizeof natts_many, false), -1);
    assert_int_equal(decode_bytes(len_huge, sizeof len_huge, false), -1);
    assert_int_equal(decode_bytes(kind_bad, sizeof kind_bad, false), -1);
    assert_int_equal(decode_bytes(trunc_many, sizeof trunc_many, false), -1);
    assert_int_equal(decode_bytes(rel_huge, sizeof rel_huge, false), -1);
    assert_int_equal(decode_bytes(rel_noterm, sizeof rel_noterm, false), -1);
    assert_int_equal(decode_bytes(unknown, sizeof unknown, false), -1);
    assert_int_equal(decode_bytes(stop_outside, sizeof stop_outside, false), -1);
    assert_int_equal(decode_bytes(msg_noterm, sizeof msg_noterm, false), -1);
    assert_int_equal(decode_bytes(msg_len_huge, sizeof msg_len_huge, false), -1);
    assert_int_equal(decode_bytes(NULL, 0, false), -1);
}

/* Every prefix of every real message is either a whole message or an error. */
static void test_truncation(void **state)
{
    size_t len;
    uint8_t *b = relay_test_fixture("pgoutput_v1.bin", &len);
    relay_pgoutput_decoder *d = relay_pgoutput_decoder_new();
    size_t at = 0;
    for (int k = 0; k < 40 && at < len; k++) {
        relay_pgoutput_msg m;
        size_t used;
        char err[256];
        assert_int_equal(relay_pgoutput_decode(d, b + at, len - at, &m, &used, err, sizeof err), 0);
        if (m.type == RELAY_PGOUTPUT_RELATION)
            relay_pgoutput_relation_free(m.u.relation);
        for (size_t cut = 0; cut < used; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, b + at, cut);
            assert_int_equal(decode_bytes(copy, cut, false), -1);
            free(copy);
        }
        at += used + 1;
    }
    relay_pgoutput_decoder_free(d);
    free(b);
}

static void test_frames(void **state)
{
    relay_frame f;
    char err[128];
    const uint8_t keep[] = {'k', 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1};
    assert_int_equal(relay_frame_parse(keep, sizeof keep, &f, err, sizeof err), 0);
    assert_int_equal(f.kind, 'k');
    assert_int_equal(f.wal_end, 0x100);
    assert_true(f.reply_requested);
    assert_int_equal(relay_frame_parse(keep, sizeof keep - 1, &f, err, sizeof err), -1);
    const uint8_t w[] = {'w', 0, 0, 0,  0, 0, 0, 0, 9, 0, 0, 0, 0,
                         0,   0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 'B'};
    assert_int_equal(relay_frame_parse(w, sizeof w, &f, err, sizeof err), 0);
    assert_int_equal(f.start_lsn, 9);
    assert_int_equal(f.payload_len, 1);
    assert_int_equal(relay_frame_parse(w, 10, &f, err, sizeof err), -1);
    const uint8_t x[] = {'x'};
    assert_int_equal(relay_frame_parse(x, 1, &f, err, sizeof err), -1);
}

static int count_cb(void *ud, const uint8_t *msg, size_t len, char *err, size_t errlen)
{
    int *n = ud;
    (*n)++;
    assert_int_equal(len, 3);
    assert_int_equal(msg[0], 'I');
    return msg[1] == 'x' ? -1 : 0;
}

/* Streamed transactions: a subtransaction abort cuts its records off; a
 * whole abort removes them; replay yields what is left, in order. */
static void test_spool(void **state)
{
    char err[256], dir[] = "/tmp/relay_spool_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    relay_spool *s = relay_spool_new(dir, err, sizeof err);
    assert_non_null(s);
    const uint8_t a[] = {'I', 'a', 1}, b[] = {'I', 'b', 2};
    assert_int_equal(relay_spool_append(s, 10, 10, a, 3, err, sizeof err), 0);
    assert_int_equal(relay_spool_append(s, 10, 11, b, 3, err, sizeof err), 0);
    assert_int_equal(relay_spool_append(s, 10, 11, b, 3, err, sizeof err), 0);
    assert_int_equal(relay_spool_append(s, 20, 20, a, 3, err, sizeof err), 0);
    assert_int_equal(relay_spool_abort(s, 10, 11, err, sizeof err), 0);
    assert_int_equal(relay_spool_append(s, 10, 12, a, 3, err, sizeof err), 0);
    assert_int_equal(relay_spool_abort(s, 20, 20, err, sizeof err), 0);
    assert_int_equal(relay_spool_open_count(s), 1);
    int n = 0;
    assert_int_equal(relay_spool_replay(s, 10, count_cb, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(relay_spool_open_count(s), 0);
    n = 0;
    assert_int_equal(relay_spool_replay(s, 99, count_cb, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    relay_spool_free(s);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_fixture),
        cmocka_unit_test(test_v2_streaming_fixture),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_spool),
        cmocka_unit_test(test_v2_lifecycle_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
