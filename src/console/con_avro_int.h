/* con_avro_int: the compiled schema shared by con_avro_schema.c (parsing)
 * and con_avro.c (decoding). Private to those two files. */
#ifndef CON_AVRO_INT_H
#define CON_AVRO_INT_H

#include "con_avro.h"

#include <stdint.h>

typedef enum {
    CA_NULL,
    CA_BOOLEAN,
    CA_INT,
    CA_LONG,
    CA_FLOAT,
    CA_DOUBLE,
    CA_BYTES,
    CA_STRING,
    CA_RECORD,
    CA_ENUM,
    CA_ARRAY,
    CA_MAP,
    CA_UNION,
    CA_FIXED,
} ca_kind;

typedef enum {
    CA_LT_NONE,
    CA_LT_TS_MILLIS,
    CA_LT_TS_MICROS,
    CA_LT_DATE,
    CA_LT_UUID,
} ca_logical;

/* One schema node. Named types are shared by every reference, so a
 * recursive record points at itself; nodes are owned by the schema's list. */
typedef struct ca_node {
    ca_kind kind;
    ca_logical logical;
    char *fullname;        /* record, enum, fixed */
    size_t n;              /* fields, symbols or branches */
    char **names;          /* field names or enum symbols */
    struct ca_node **kids; /* field types, union branches; kids[0]: items/values */
    int64_t size;          /* fixed */
} ca_node;

struct con_avro_schema {
    json_t *json;
    ca_node *root;
    ca_node **nodes; /* every node, for freeing */
    size_t nnodes, capnodes;
};

#endif
