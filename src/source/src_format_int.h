/* Internal to src_format.c and src_format_text.c. */
#ifndef SRC_FORMAT_INT_H
#define SRC_FORMAT_INT_H

#include "src_format.h"

enum { SRC_NODE_LEAF, SRC_NODE_OPEN, SRC_NODE_CLOSE };

/* Calls fn for every node of u that inc keeps: OPEN/CLOSE around nested
 * objects (key of the object on OPEN), LEAF with its value. */
void src_format_walk(const src_user *u, unsigned inc,
                     void (*fn)(void *ctx, int kind, const char *key, const src_value *v),
                     void *ctx);

void src_yaml_user(us_buf *b, const src_user *u, unsigned inc);
void src_yaml_end(us_buf *b, size_t users, const src_info *info);
void src_xml_user(us_buf *b, const src_user *u, unsigned inc);
void src_xml_end(us_buf *b, const src_info *info);
/* String(d) of a JS number. */
void src_format_number(us_buf *b, double d);

#endif
