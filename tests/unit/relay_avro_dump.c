/* Test helper: decodes a recorded pgoutput stream and prints, per inserted
 * or updated row, the relay's Avro encoding of it next to the PostgreSQL
 * text of each column, one JSON object a line:
 *   {"schema": "<avro schema json>", "avro": "<hex>", "text": [..|null]}
 * relay_avro_check.py decodes "avro" with fastavro and compares. */
#include "relay_avro.h"
#include "relay_pgoutput.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dump_row(const relay_pgoutput_relation *rel, const char *schema,
                    const relay_pgoutput_tuple *t)
{
    relay_buf b = {0};
    char err[256], op = 'c';
    json_t *texts = json_array();
    for (uint16_t i = 0; i < t->natts; i++) {
        const relay_pgoutput_value *v = &t->vals[i];
        if (v->kind == 't') {
            if (relay_avro_put_text(&b, relay_avro_kind_of(rel->cols[i].type_oid), v->data, v->len,
                                    err, sizeof err) < 0) {
                fprintf(stderr, "column %s: %s\n", rel->cols[i].name, err);
                return -1;
            }
            json_array_append_new(texts, json_stringn((const char *)v->data, v->len));
        } else {
            relay_avro_put_long(&b, 0);
            json_array_append_new(texts, json_null());
        }
    }
    relay_avro_put_string(&b, &op, 1);
    relay_avro_put_long(&b, 1234567);
    relay_avro_put_long(&b, 7);
    relay_avro_put_long(&b, 1700000000000000);
    char *hex = malloc(b.len * 2 + 1);
    for (size_t i = 0; i < b.len; i++)
        sprintf(hex + 2 * i, "%02x", b.data[i]);
    json_t *o = json_pack("{s:s,s:s,s:o}", "schema", schema, "avro", hex, "text", texts);
    char *line = json_dumps(o, JSON_COMPACT);
    puts(line);
    free(line);
    json_decref(o);
    free(hex);
    relay_buf_free(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return 2;
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f), at = 0;
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len);
    if (fread(buf, 1, len, f) != len)
        return 2;
    fclose(f);
    relay_pgoutput_decoder *d = relay_pgoutput_decoder_new();
    relay_pgoutput_relation *rel = NULL;
    char *schema = NULL, err[256];
    int rc = 0;
    while (at < len && rc == 0) {
        relay_pgoutput_msg m;
        size_t used;
        if (relay_pgoutput_decode(d, buf + at, len - at, &m, &used, err, sizeof err) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        if (m.type == RELAY_PGOUTPUT_RELATION) {
            relay_pgoutput_relation_free(rel);
            free(schema);
            rel = m.u.relation;
            schema = relay_avro_schema_json(rel, err, sizeof err);
        } else if (m.type == RELAY_PGOUTPUT_INSERT) {
            rc = dump_row(rel, schema, &m.u.insert.newtup);
        } else if (m.type == RELAY_PGOUTPUT_UPDATE) {
            rc = dump_row(rel, schema, &m.u.update.newtup);
        }
        at += used + 1;
    }
    relay_pgoutput_relation_free(rel);
    free(schema);
    relay_pgoutput_decoder_free(d);
    free(buf);
    return rc ? 1 : 0;
}
