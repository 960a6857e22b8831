/* relay_pgoutput: client-side decoder of the pgoutput logical replication
 * messages (protocol versions 1 and 2), the payload of XLogData frames.
 *
 * Zero-copy: tuple values point into the caller's message buffer and stay
 * valid until that buffer is released or the next decode. Relation messages
 * are copied out (pgo_relation_free) because the relay caches them.
 *
 * The decoder is stateful in one way only: between Stream Start and Stream
 * Stop (protocol 2), data messages carry the transaction id of the streamed
 * transaction before their other fields. Spooled messages of a streamed
 * transaction are decoded later with pgo_decoder_set_streaming(d, true). */
#ifndef RELAY_PGOUTPUT_H
#define RELAY_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PostgreSQL's limit on columns per table (MaxTupleAttributeNumber is 1664,
 * MaxHeapAttributeNumber 1600): more is malformed input. */
#define PGO_MAX_ATTS 1600

typedef enum {
    PGO_BEGIN = 'B',
    PGO_COMMIT = 'C',
    PGO_ORIGIN = 'O',
    PGO_RELATION = 'R',
    PGO_TYPE = 'Y',
    PGO_INSERT = 'I',
    PGO_UPDATE = 'U',
    PGO_DELETE = 'D',
    PGO_TRUNCATE = 'T',
    PGO_MESSAGE = 'M',
    PGO_STREAM_START = 'S',
    PGO_STREAM_STOP = 'E',
    PGO_STREAM_COMMIT = 'c',
    PGO_STREAM_ABORT = 'A',
} pgo_type;

typedef struct pgo_value {
    char kind; /* 'n' null, 'u' unchanged TOAST (no value sent), 't' text, 'b' binary */
    uint32_t len;
    const uint8_t *data; /* not NUL-terminated */
} pgo_value;

typedef struct pgo_tuple {
    uint16_t natts;
    pgo_value *vals;
} pgo_tuple;

typedef struct pgo_column {
    bool key; /* part of the replica identity */
    char *name;
    uint32_t type_oid;
    int32_t typmod;
} pgo_column;

typedef struct pgo_relation {
    uint32_t oid;
    char *nspname; /* "" means pg_catalog on the wire; kept as sent */
    char *relname;
    char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    uint16_t natts;
    pgo_column *cols;
} pgo_relation;

typedef struct pgo_msg {
    pgo_type type;
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
        pgo_relation *relation; /* owned by the caller after decode */
        struct {
            uint32_t oid;
            const char *nspname, *name;
        } type;
        struct {
            uint32_t relid;
            pgo_tuple newtup;
        } insert;
        struct {
            uint32_t relid;
            char old_kind; /* 0 none, 'K' key only, 'O' whole old row */
            pgo_tuple oldtup, newtup;
        } update;
        struct {
            uint32_t relid;
            char old_kind;
            pgo_tuple oldtup;
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
} pgo_msg;

typedef struct pgo_decoder pgo_decoder;

pgo_decoder *pgo_decoder_new(void);
void pgo_decoder_free(pgo_decoder *d);
void pgo_decoder_set_streaming(pgo_decoder *d, bool in_stream);
bool pgo_decoder_in_stream(const pgo_decoder *d);

/* Decodes one message from buf[0..len). On success returns 0 and sets
 * *consumed to the bytes it used; a caller holding exactly one message checks
 * *consumed == len. On malformed input returns -1 with a reason in err;
 * nothing is allocated then. */
int pgo_decode(pgo_decoder *d, const uint8_t *buf, size_t len, pgo_msg *out, size_t *consumed,
               char *err, size_t errlen);

/* The i-th relation id of a Truncate message. */
uint32_t pgo_truncate_relid(const pgo_msg *m, uint32_t i);

pgo_relation *pgo_relation_copy(const pgo_relation *r);
void pgo_relation_free(pgo_relation *r);

#endif
