/* relay_pgoutput: client-side decoder of the pgoutput logical replication
 * messages (protocol versions 1 and 2), the payload of XLogData frames.
 *
 * Zero-copy: tuple values point into the caller's message buffer and stay
 * valid until that buffer is released or the next decode. Relation messages
 * are copied out (relay_pgoutput_relation_free) because the relay caches them.
 *
 * The decoder is stateful in one way only: between Stream Start and Stream
 * Stop (protocol 2), data messages carry the transaction id of the streamed
 * transaction before their other fields. Spooled messages of a streamed
 * transaction are decoded later with relay_pgoutput_decoder_set_streaming(d, true). */
#ifndef RELAY_PGOUTPUT_H
#define RELAY_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PostgreSQL's limit on columns per table (MaxTupleAttributeNumber is 1664,
 * MaxHeapAttributeNumber 1600): more is malformed input. */
#define RELAY_PGOUTPUT_MAX_ATTS 1600

typedef enum {
    RELAY_PGOUTPUT_BEGIN = 'B',
    RELAY_PGOUTPUT_COMMIT = 'C',
    RELAY_PGOUTPUT_ORIGIN = 'O',
    RELAY_PGOUTPUT_RELATION = 'R',
    RELAY_PGOUTPUT_TYPE = 'Y',
    RELAY_PGOUTPUT_INSERT = 'I',
    RELAY_PGOUTPUT_UPDATE = 'U',
    RELAY_PGOUTPUT_DELETE = 'D',
    RELAY_PGOUTPUT_TRUNCATE = 'T',
    RELAY_PGOUTPUT_MESSAGE = 'M',
    RELAY_PGOUTPUT_STREAM_START = 'S',
    RELAY_PGOUTPUT_STREAM_STOP = 'E',
    RELAY_PGOUTPUT_STREAM_COMMIT = 'c',
    RELAY_PGOUTPUT_STREAM_ABORT = 'A',
} relay_pgoutput_type;

typedef struct relay_pgoutput_value {
    char kind; /* 'n' null, 'u' unchanged TOAST (no value sent), 't' text, 'b' binary */
    uint32_t len;
    const uint8_t *data; /* not NUL-terminated */
} relay_pgoutput_value;

typedef struct relay_pgoutput_tuple {
    uint16_t natts;
    relay_pgoutput_value *vals;
} relay_pgoutput_tuple;

typedef struct relay_pgoutput_column {
    bool key; /* part of the replica identity */
    char *name;
    uint32_t type_oid;
    int32_t typmod;
} relay_pgoutput_column;

typedef struct relay_pgoutput_relation {
    uint32_t oid;
    char *nspname; /* "" means pg_catalog on the wire; kept as sent */
    char *relname;
    char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    uint16_t natts;
    relay_pgoutput_column *cols;
} relay_pgoutput_relation;

typedef struct relay_pgoutput_msg {
    relay_pgoutput_type type;
    bool has_xid; /* the message carried a streamed transaction's id */
    uint32_t xid;
    union {
        struct {
            uint64_t final_lsn;
            int64_t commit_ts;
            uint32_t xid;
        } begin;
        struct {
            uint8_t flags;
            uint64_t commit_lsn, end_lsn;
            int64_t commit_ts;
        } commit;
        struct {
            uint64_t lsn;
            const char *name;
        } origin;
        relay_pgoutput_relation *relation; /* owned by the caller after decode */
        struct {
            uint32_t oid;
            const char *nspname, *name;
        } type;
        struct {
            uint32_t relid;
            relay_pgoutput_tuple newtup;
        } insert;
        struct {
            uint32_t relid;
            char old_kind; /* 0 none, 'K' key only, 'O' whole old row */
            relay_pgoutput_tuple oldtup, newtup;
        } update;
        struct {
            uint32_t relid;
            char old_kind;
            relay_pgoutput_tuple oldtup;
        } del;
        struct {
            uint32_t nrelids;
            uint8_t flags;
            const uint8_t *relids;
        } truncate;
        struct {
            uint8_t flags;
            uint64_t lsn;
            const char *prefix;
            uint32_t len;
            const uint8_t *data;
        } message;
        struct {
            uint32_t xid;
            uint8_t first_segment;
        } stream_start;
        struct {
            uint32_t xid;
            uint8_t flags;
            uint64_t commit_lsn, end_lsn;
            int64_t commit_ts;
        } stream_commit;
        struct {
            uint32_t xid, subxid;
        } stream_abort;
    } u;
} relay_pgoutput_msg;

typedef struct relay_pgoutput_decoder relay_pgoutput_decoder;

relay_pgoutput_decoder *relay_pgoutput_decoder_new(void);
void relay_pgoutput_decoder_free(relay_pgoutput_decoder *d);
void relay_pgoutput_decoder_set_streaming(relay_pgoutput_decoder *d, bool in_stream);
bool relay_pgoutput_decoder_in_stream(const relay_pgoutput_decoder *d);

/* Decodes one message from buf[0..len). On success returns 0 and sets
 * *consumed to the bytes it used; a caller holding exactly one message checks
 * *consumed == len. On malformed input returns -1 with a reason in err;
 * nothing is allocated then. */
int relay_pgoutput_decode(relay_pgoutput_decoder *d, const uint8_t *buf, size_t len,
                          relay_pgoutput_msg *out, size_t *consumed, char *err, size_t errlen);

/* The i-th relation id of a Truncate message. */
uint32_t relay_pgoutput_truncate_relid(const relay_pgoutput_msg *m, uint32_t i);

relay_pgoutput_relation *relay_pgoutput_relation_copy(const relay_pgoutput_relation *r);
void relay_pgoutput_relation_free(relay_pgoutput_relation *r);

#endif
