/* relay_pgoutput: see relay_pgoutput.h.
 *
 * Byte layouts below follow PostgreSQL's "Logical Replication Message
 * Formats" (protocol versions 1 and 2). Integers are big-endian; "String" is
 * NUL-terminated; "[xid]" is an Int32 present only inside a stream block.
 * Every count and length read from the wire is checked against the bytes
 * that remain before it is used to size a loop or an allocation. */
#include "relay_pgoutput.h"

#include "relay_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct relay_pgoutput_decoder {
    bool in_stream;
    relay_pgoutput_value *scratch[2]; /* old and new tuple values, RELAY_PGOUTPUT_MAX_ATTS each */
};

relay_pgoutput_decoder *relay_pgoutput_decoder_new(void)
{
    relay_pgoutput_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    for (int i = 0; i < 2; i++) {
        d->scratch[i] = calloc(RELAY_PGOUTPUT_MAX_ATTS, sizeof(relay_pgoutput_value));
        if (!d->scratch[i]) {
            relay_pgoutput_decoder_free(d);
            return NULL;
        }
    }
    return d;
}

void relay_pgoutput_decoder_free(relay_pgoutput_decoder *d)
{
    if (!d)
        return;
    free(d->scratch[0]);
    free(d->scratch[1]);
    free(d);
}

void relay_pgoutput_decoder_set_streaming(relay_pgoutput_decoder *d, bool in_stream)
{
    d->in_stream = in_stream;
}

bool relay_pgoutput_decoder_in_stream(const relay_pgoutput_decoder *d)
{
    return d->in_stream;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* TupleData:
 *   Int16 natts
 *   natts times: Byte1 kind
 *     'n' null | 'u' unchanged TOAST value (nothing follows)
 *     't' text | 'b' binary: Int32 len, then len bytes
 * Each column needs at least its kind byte, so natts is checked against the
 * remaining bytes before the loop. */
static int read_tuple(relay_cursor *c, relay_pgoutput_value *vals, relay_pgoutput_tuple *t,
                      char *err, size_t errlen)
{
    uint16_t natts = relay_read_u16(c);
    if (c->bad)
        return fail(err, errlen, "tuple: truncated column count");
    if (natts > RELAY_PGOUTPUT_MAX_ATTS)
        return fail(err, errlen, "tuple: %u columns exceeds the limit of %d", natts,
                    RELAY_PGOUTPUT_MAX_ATTS);
    if (natts > relay_cursor_left(c))
        return fail(err, errlen, "tuple: %u columns but only %zu bytes left", natts,
                    relay_cursor_left(c));
    for (uint16_t i = 0; i < natts; i++) {
        relay_pgoutput_value *v = &vals[i];
        v->kind = (char)relay_read_u8(c);
        v->len = 0;
        v->data = NULL;
        switch (v->kind) {
        case 'n':
        case 'u':
            break;
        case 't':
        case 'b':
            v->len = relay_read_u32(c);
            if (c->bad || v->len > relay_cursor_left(c))
                return fail(err, errlen, "tuple: column %u length %u exceeds the %zu bytes left", i,
                            v->len, relay_cursor_left(c));
            v->data = relay_read_bytes(c, v->len);
            break;
        default:
            return fail(err, errlen, "tuple: column %u has unknown kind 0x%02x", i,
                        (unsigned)(uint8_t)v->kind);
        }
        if (c->bad)
            return fail(err, errlen, "tuple: truncated at column %u", i);
    }
    t->natts = natts;
    t->vals = vals;
    return 0;
}

/* The optional streamed transaction id in front of a data message. */
static void read_stream_xid(relay_pgoutput_decoder *d, relay_cursor *c, relay_pgoutput_msg *m)
{
    if (d->in_stream) {
        m->has_xid = true;
        m->xid = relay_read_u32(c);
    }
}

static char *dup_n(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

/* Relation:
 *   Byte1 'R', [Int32 xid], Int32 relation oid, String namespace,
 *   String relation name, Int8 replica identity setting, Int16 natts,
 *   natts times: Int8 flags (1 = part of the key), String name,
 *                Int32 type oid, Int32 type modifier
 * A column needs at least 10 bytes (flags, empty name, oid, typmod). */
static int decode_relation(relay_cursor *c, relay_pgoutput_msg *m, char *err, size_t errlen)
{
    size_t nsl, rnl;
    uint32_t oid = relay_read_u32(c);
    const char *nsp = relay_read_cstr(c, &nsl);
    const char *rel = relay_read_cstr(c, &rnl);
    char ident = (char)relay_read_u8(c);
    uint16_t natts = relay_read_u16(c);
    if (c->bad)
        return fail(err, errlen, "relation: truncated header");
    if (natts > RELAY_PGOUTPUT_MAX_ATTS || (size_t)natts * 10 > relay_cursor_left(c))
        return fail(err, errlen, "relation: %u columns do not fit in %zu bytes", natts,
                    relay_cursor_left(c));
    relay_pgoutput_relation *r = calloc(1, sizeof *r);
    if (!r)
        return fail(err, errlen, "out of memory");
    r->oid = oid;
    r->replident = ident;
    r->nspname = dup_n(nsp, nsl);
    r->relname = dup_n(rel, rnl);
    r->cols = calloc(natts ? natts : 1, sizeof(relay_pgoutput_column));
    if (!r->nspname || !r->relname || !r->cols) {
        relay_pgoutput_relation_free(r);
        return fail(err, errlen, "out of memory");
    }
    for (uint16_t i = 0; i < natts; i++, r->natts++) {
        size_t nl;
        uint8_t flags = relay_read_u8(c);
        const char *name = relay_read_cstr(c, &nl);
        uint32_t typ = relay_read_u32(c);
        int32_t typmod = (int32_t)relay_read_u32(c);
        if (c->bad) {
            relay_pgoutput_relation_free(r);
            return fail(err, errlen, "relation: truncated at column %u", i);
        }
        r->cols[i] =
            (relay_pgoutput_column){.key = (flags & 1) != 0, .type_oid = typ, .typmod = typmod};
        if (!(r->cols[i].name = dup_n(name, nl))) {
            relay_pgoutput_relation_free(r);
            return fail(err, errlen, "out of memory");
        }
    }
    m->u.relation = r;
    return 0;
}

/* Update:
 *   Byte1 'U', [Int32 xid], Int32 relation oid,
 *   optionally Byte1 'K' (old key) or 'O' (old row) + TupleData,
 *   Byte1 'N' + TupleData (new row)
 * Delete:
 *   Byte1 'D', [Int32 xid], Int32 relation oid, Byte1 'K' or 'O', TupleData
 * Insert:
 *   Byte1 'I', [Int32 xid], Int32 relation oid, Byte1 'N', TupleData */
static int decode_change(relay_pgoutput_decoder *d, relay_cursor *c, relay_pgoutput_msg *m,
                         char *err, size_t errlen)
{
    uint32_t relid = relay_read_u32(c);
    char kind = (char)relay_read_u8(c);
    if (c->bad)
        return fail(err, errlen, "%c: truncated header", m->type);
    if (m->type == RELAY_PGOUTPUT_INSERT) {
        m->u.insert.relid = relid;
        if (kind != 'N')
            return fail(err, errlen, "insert: expected 'N', got 0x%02x", (unsigned)(uint8_t)kind);
        return read_tuple(c, d->scratch[1], &m->u.insert.newtup, err, errlen);
    }
    if (m->type == RELAY_PGOUTPUT_DELETE) {
        m->u.del.relid = relid;
        m->u.del.old_kind = kind;
        if (kind != 'K' && kind != 'O')
            return fail(err, errlen, "delete: expected 'K' or 'O', got 0x%02x",
                        (unsigned)(uint8_t)kind);
        return read_tuple(c, d->scratch[0], &m->u.del.oldtup, err, errlen);
    }
    m->u.update.relid = relid;
    m->u.update.old_kind = 0;
    if (kind == 'K' || kind == 'O') {
        m->u.update.old_kind = kind;
        if (read_tuple(c, d->scratch[0], &m->u.update.oldtup, err, errlen) < 0)
            return -1;
        kind = (char)relay_read_u8(c);
    }
    if (c->bad || kind != 'N')
        return fail(err, errlen, "update: expected 'N', got 0x%02x", (unsigned)(uint8_t)kind);
    return read_tuple(c, d->scratch[1], &m->u.update.newtup, err, errlen);
}

/* Truncate:
 *   Byte1 'T', [Int32 xid], Int32 number of relations, Int8 flags
 *   (1 cascade, 2 restart identity), then that many Int32 relation oids. */
static int decode_truncate(relay_cursor *c, relay_pgoutput_msg *m, char *err, size_t errlen)
{
    uint32_t n = relay_read_u32(c);
    uint8_t flags = relay_read_u8(c);
    if (c->bad)
        return fail(err, errlen, "truncate: truncated header");
    if (n > relay_cursor_left(c) / 4)
        return fail(err, errlen, "truncate: %u relations do not fit in %zu bytes", n,
                    relay_cursor_left(c));
    m->u.truncate.nrelids = n;
    m->u.truncate.flags = flags;
    m->u.truncate.relids = relay_read_bytes(c, (size_t)n * 4);
    return 0;
}

/* Message (logical decoding message, only with the "messages" option):
 *   Byte1 'M', [Int32 xid], Int8 flags (1 = transactional), Int64 lsn,
 *   String prefix, Int32 length, that many bytes.
 * A transactional message sits between its transaction's Begin and Commit
 * (or in its stream block) at its place in the WAL: a staging purge emits
 * prefix "userstream.purge" before its deletes (relay_emit_message). */
static int decode_message(relay_cursor *c, relay_pgoutput_msg *m, char *err, size_t errlen)
{
    m->u.message.flags = relay_read_u8(c);
    m->u.message.lsn = relay_read_u64(c);
    m->u.message.prefix = relay_read_cstr(c, NULL);
    m->u.message.len = relay_read_u32(c);
    if (c->bad || m->u.message.len > relay_cursor_left(c))
        return fail(err, errlen, "message: truncated or length beyond the buffer");
    m->u.message.data = relay_read_bytes(c, m->u.message.len);
    return 0;
}

/* Transaction control:
 *   'B' Begin:         Int64 final (commit) LSN, Int64 commit time, Int32 xid
 *   'C' Commit:        Int8 flags (0), Int64 commit LSN, Int64 end LSN, Int64 commit time
 *   'O' Origin:        Int64 origin commit LSN, String origin name
 *   'Y' Type:          [Int32 xid], Int32 type oid, String namespace, String name
 *   'S' Stream Start:  Int32 xid, Int8 1 if first segment of that xid
 *   'E' Stream Stop:   nothing
 *   'c' Stream Commit: Int32 xid, Int8 flags (0), Int64 commit LSN, Int64 end LSN,
 *                      Int64 commit time
 *   'A' Stream Abort:  Int32 xid, Int32 subtransaction xid (== xid: whole txn) */
static int decode_control(relay_pgoutput_decoder *d, relay_cursor *c, relay_pgoutput_msg *m,
                          char *err, size_t errlen)
{
    switch (m->type) {
    case RELAY_PGOUTPUT_BEGIN:
        m->u.begin.final_lsn = relay_read_u64(c);
        m->u.begin.commit_ts = (int64_t)relay_read_u64(c);
        m->u.begin.xid = relay_read_u32(c);
        break;
    case RELAY_PGOUTPUT_COMMIT:
        m->u.commit.flags = relay_read_u8(c);
        m->u.commit.commit_lsn = relay_read_u64(c);
        m->u.commit.end_lsn = relay_read_u64(c);
        m->u.commit.commit_ts = (int64_t)relay_read_u64(c);
        break;
    case RELAY_PGOUTPUT_ORIGIN:
        m->u.origin.lsn = relay_read_u64(c);
        m->u.origin.name = relay_read_cstr(c, NULL);
        break;
    case RELAY_PGOUTPUT_TYPE:
        read_stream_xid(d, c, m);
        m->u.type.oid = relay_read_u32(c);
        m->u.type.nspname = relay_read_cstr(c, NULL);
        m->u.type.name = relay_read_cstr(c, NULL);
        break;
    case RELAY_PGOUTPUT_STREAM_START:
        if (d->in_stream)
            return fail(err, errlen, "stream start inside a stream block");
        m->u.stream_start.xid = relay_read_u32(c);
        m->u.stream_start.first_segment = relay_read_u8(c);
        if (!c->bad)
            d->in_stream = true;
        break;
    case RELAY_PGOUTPUT_STREAM_STOP:
        if (!d->in_stream)
            return fail(err, errlen, "stream stop outside a stream block");
        d->in_stream = false;
        break;
    case RELAY_PGOUTPUT_STREAM_COMMIT:
        m->u.stream_commit.xid = relay_read_u32(c);
        m->u.stream_commit.flags = relay_read_u8(c);
        m->u.stream_commit.commit_lsn = relay_read_u64(c);
        m->u.stream_commit.end_lsn = relay_read_u64(c);
        m->u.stream_commit.commit_ts = (int64_t)relay_read_u64(c);
        break;
    case RELAY_PGOUTPUT_STREAM_ABORT:
        m->u.stream_abort.xid = relay_read_u32(c);
        m->u.stream_abort.subxid = relay_read_u32(c);
        break;
    default:
        return fail(err, errlen, "internal: not a control message");
    }
    if (c->bad)
        return fail(err, errlen, "'%c': truncated message", m->type);
    return 0;
}

int relay_pgoutput_decode(relay_pgoutput_decoder *d, const uint8_t *buf, size_t len,
                          relay_pgoutput_msg *out, size_t *consumed, char *err, size_t errlen)
{
    relay_cursor c;
    int rc;
    relay_cursor_init(&c, buf, len);
    memset(out, 0, sizeof *out);
    out->type = (relay_pgoutput_type)relay_read_u8(&c);
    if (c.bad)
        return fail(err, errlen, "empty message");
    switch (out->type) {
    case RELAY_PGOUTPUT_RELATION:
        read_stream_xid(d, &c, out);
        rc = decode_relation(&c, out, err, errlen);
        break;
    case RELAY_PGOUTPUT_INSERT:
    case RELAY_PGOUTPUT_UPDATE:
    case RELAY_PGOUTPUT_DELETE:
        read_stream_xid(d, &c, out);
        rc = decode_change(d, &c, out, err, errlen);
        break;
    case RELAY_PGOUTPUT_TRUNCATE:
        read_stream_xid(d, &c, out);
        rc = decode_truncate(&c, out, err, errlen);
        break;
    case RELAY_PGOUTPUT_MESSAGE:
        read_stream_xid(d, &c, out);
        rc = decode_message(&c, out, err, errlen);
        break;
    case RELAY_PGOUTPUT_BEGIN:
    case RELAY_PGOUTPUT_COMMIT:
    case RELAY_PGOUTPUT_ORIGIN:
    case RELAY_PGOUTPUT_TYPE:
    case RELAY_PGOUTPUT_STREAM_START:
    case RELAY_PGOUTPUT_STREAM_STOP:
    case RELAY_PGOUTPUT_STREAM_COMMIT:
    case RELAY_PGOUTPUT_STREAM_ABORT:
        rc = decode_control(d, &c, out, err, errlen);
        break;
    default:
        return fail(err, errlen, "unknown message type 0x%02x", (unsigned)buf[0]);
    }
    if (rc == 0 && c.bad)
        rc = fail(err, errlen, "'%c': truncated message", out->type);
    if (rc < 0) {
        if (out->type == RELAY_PGOUTPUT_RELATION && out->u.relation) {
            relay_pgoutput_relation_free(out->u.relation);
            out->u.relation = NULL;
        }
        return -1;
    }
    *consumed = (size_t)(c.p - buf);
    return 0;
}

uint32_t relay_pgoutput_truncate_relid(const relay_pgoutput_msg *m, uint32_t i)
{
    relay_cursor c;
    relay_cursor_init(&c, m->u.truncate.relids + (size_t)i * 4, 4);
    return relay_read_u32(&c);
}

relay_pgoutput_relation *relay_pgoutput_relation_copy(const relay_pgoutput_relation *r)
{
    relay_pgoutput_relation *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    *n = *r;
    n->natts = 0;
    n->nspname = strdup(r->nspname);
    n->relname = strdup(r->relname);
    n->cols = calloc(r->natts ? r->natts : 1, sizeof(relay_pgoutput_column));
    if (!n->nspname || !n->relname || !n->cols)
        goto fail;
    for (; n->natts < r->natts; n->natts++) {
        n->cols[n->natts] = r->cols[n->natts];
        if (!(n->cols[n->natts].name = strdup(r->cols[n->natts].name)))
            goto fail;
    }
    return n;
fail:
    relay_pgoutput_relation_free(n);
    return NULL;
}

void relay_pgoutput_relation_free(relay_pgoutput_relation *r)
{
    if (!r)
        return;
    for (uint16_t i = 0; i < r->natts; i++)
        free(r->cols[i].name);
    free(r->cols);
    free(r->nspname);
    free(r->relname);
    free(r);
}
