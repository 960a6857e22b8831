/* src_format: writes a response body in one of upstream's five formats,
 * byte for byte in the layout of the libraries randomuser.me uses:
 *   json    JSON.stringify(obj)                 compact, raw UTF-8
 *   pretty  JSON.stringify(obj, null, 2)
 *   csv     json-2-csv 3.17: dotted header, "," and "\n", no final newline
 *   yaml    yamljs 0.2.10 YAML.stringify(obj, 4): 4-space indent, inline
 *           from the fourth level, its quoting rules
 *   xml     js2xmlparser 1.0.0 ("user" root, tabs, repeated <results>)
 * Use: src_writer_begin, src_writer_user per record, src_writer_end. */
#ifndef SRC_FORMAT_H
#define SRC_FORMAT_H

#include "us_buf.h"
#include "src_user.h"

#include <stdbool.h>

typedef enum { SRC_FMT_JSON, SRC_FMT_PRETTY, SRC_FMT_CSV, SRC_FMT_YAML, SRC_FMT_XML } src_format;

typedef struct src_info {
    const char *seed;
    size_t seed_n;
    int results;
    double page;
} src_info;

typedef struct src_writer {
    src_format fmt;
    us_buf *out;
    unsigned inc;
    size_t users;
    const char *callback; /* JSONP name (json/pretty only); NULL = none */
    size_t callback_n;
    bool generic; /* tests: never take the whole-record fast path */
} src_writer;

void src_writer_begin(src_writer *w, src_format fmt, unsigned inc, us_buf *out,
                      const char *callback, size_t callback_n);
void src_writer_user(src_writer *w, const src_user *u);
/* info NULL: no info block (noinfo). */
void src_writer_end(src_writer *w, const src_info *info);

/* Scalar encoders, exposed for the unit tests. */
void src_json_string(us_buf *b, const char *s, size_t n);
void src_yaml_string(us_buf *b, const char *s, size_t n);
void src_xml_text(us_buf *b, const char *s, size_t n);
void src_csv_field(us_buf *b, const char *s, size_t n);

#endif
