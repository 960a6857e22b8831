/* con_avro_schema: parsing an Avro writer schema (JSON) into ca_node trees,
 * and the structural diff of two record schemas. See con_avro.h. */
#include "con_avro_int.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    con_avro_schema *s;
    char *err;
    size_t errlen;
    bool failed;
} parse_ctx;

__attribute__((format(printf, 2, 3))) static void fail(parse_ctx *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
}

static ca_node *node_new(parse_ctx *c, ca_kind kind)
{
    con_avro_schema *s = c->s;
    if (s->nnodes == s->capnodes) {
        size_t cap = s->capnodes ? s->capnodes * 2 : 16;
        ca_node **n = realloc(s->nodes, cap * sizeof(*n));
        if (!n) {
            fail(c, "out of memory");
            return NULL;
        }
        s->nodes = n;
        s->capnodes = cap;
    }
    ca_node *n = calloc(1, sizeof(*n));
    if (!n) {
        fail(c, "out of memory");
        return NULL;
    }
    n->kind = kind;
    s->nodes[s->nnodes++] = n;
    return n;
}

static const struct {
    const char *name;
    ca_kind kind;
} primitives[] = {
    {"null", CA_NULL},   {"boolean", CA_BOOLEAN}, {"int", CA_INT},     {"long", CA_LONG},
    {"float", CA_FLOAT}, {"double", CA_DOUBLE},   {"bytes", CA_BYTES}, {"string", CA_STRING},
};

static int primitive_kind(const char *name, ca_kind *kind)
{
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++) {
        if (strcmp(name, primitives[i].name) == 0) {
            *kind = primitives[i].kind;
            return 0;
        }
    }
    return -1;
}

/* Avro names: [A-Za-z_][A-Za-z0-9_]*, dotted for full names. */
static bool valid_name(const char *name, bool dotted)
{
    bool start = true;
    if (!*name)
        return false;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (dotted && ch == '.' && !start && p[1]) {
            start = true;
            continue;
        }
        bool alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
        if (!alpha && !(!start && ch >= '0' && ch <= '9'))
            return false;
        start = false;
    }
    return true;
}

static char *full_name(const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns)
        return strdup(name);
    size_t len = strlen(ns) + 1 + strlen(name) + 1;
    char *f = malloc(len);
    if (f)
        snprintf(f, len, "%s.%s", ns, name);
    return f;
}

static ca_node *lookup(parse_ctx *c, const char *name, const char *ns)
{
    char *f = full_name(name, ns);
    if (!f) {
        fail(c, "out of memory");
        return NULL;
    }
    ca_node *found = NULL;
    for (size_t i = 0; i < c->s->nnodes && !found; i++) {
        ca_node *n = c->s->nodes[i];
        if (n->fullname && (strcmp(n->fullname, f) == 0 || strcmp(n->fullname, name) == 0))
            found = n;
    }
    free(f);
    if (!found)
        fail(c, "unknown type \"%.64s\"", name);
    return found;
}

static ca_node *parse_node(parse_ctx *c, const json_t *j, const char *ns, int depth);

/* Registers a named type before its body so that the body may refer to it. */
static ca_node *named_new(parse_ctx *c, const json_t *j, ca_kind kind, const char *ns,
                          const char **out_ns)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *jns = json_string_value(json_object_get(j, "namespace"));
    if (!name || !valid_name(name, true)) {
        fail(c, "named type without a valid \"name\"");
        return NULL;
    }
    if (jns && *jns && !valid_name(jns, true)) {
        fail(c, "invalid namespace \"%.64s\"", jns);
        return NULL;
    }
    char *f = full_name(name, jns ? jns : ns);
    if (!f) {
        fail(c, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < c->s->nnodes; i++) {
        if (c->s->nodes[i]->fullname && strcmp(c->s->nodes[i]->fullname, f) == 0) {
            fail(c, "type \"%.64s\" defined twice", f);
            free(f);
            return NULL;
        }
    }
    ca_node *n = node_new(c, kind);
    if (!n) {
        free(f);
        return NULL;
    }
    n->fullname = f;
    /* The namespace of the body: the full name's prefix. */
    *out_ns = f;
    return n;
}

static char *dup_ns(const char *fullname)
{
    const char *dot = strrchr(fullname, '.');
    return dot ? strndup(fullname, (size_t)(dot - fullname)) : strdup("");
}

static int alloc_members(parse_ctx *c, ca_node *n, size_t count, bool names)
{
    n->kids = calloc(count ? count : 1, sizeof(*n->kids));
    if (names)
        n->names = calloc(count ? count : 1, sizeof(*n->names));
    if (!n->kids || (names && !n->names)) {
        fail(c, "out of memory");
        return -1;
    }
    return 0;
}

static ca_node *parse_record(parse_ctx *c, const json_t *j, const char *ns, int depth)
{
    const char *full;
    ca_node *n = named_new(c, j, CA_RECORD, ns, &full);
    const json_t *fields = json_object_get(j, "fields");
    if (!n)
        return NULL;
    if (!json_is_array(fields)) {
        fail(c, "record \"%.64s\" without a \"fields\" array", full);
        return NULL;
    }
    if (alloc_members(c, n, json_array_size(fields), true) < 0)
        return NULL;
    char *body_ns = dup_ns(full);
    if (!body_ns) {
        fail(c, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(fields) && !c->failed; i++) {
        const json_t *f = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (!fname || !valid_name(fname, false)) {
            fail(c, "record \"%.64s\": field %zu without a valid \"name\"", full, i);
            break;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(n->names[k], fname) == 0)
                fail(c, "record \"%.64s\": field \"%.64s\" twice", full, fname);
        }
        n->names[i] = strdup(fname);
        n->kids[i] = parse_node(c, json_object_get(f, "type"), body_ns, depth + 1);
        n->n = i + 1;
        if (!n->names[i])
            fail(c, "out of memory");
    }
    free(body_ns);
    return c->failed ? NULL : n;
}

static ca_node *parse_enum(parse_ctx *c, const json_t *j, const char *ns)
{
    const char *full;
    ca_node *n = named_new(c, j, CA_ENUM, ns, &full);
    const json_t *syms = json_object_get(j, "symbols");
    if (!n)
        return NULL;
    if (!json_is_array(syms)) {
        fail(c, "enum \"%.64s\" without a \"symbols\" array", full);
        return NULL;
    }
    if (alloc_members(c, n, json_array_size(syms), true) < 0)
        return NULL;
    for (size_t i = 0; i < json_array_size(syms); i++) {
        const char *sym = json_string_value(json_array_get(syms, i));
        if (!sym || !valid_name(sym, false)) {
            fail(c, "enum \"%.64s\": symbol %zu is not a valid name", full, i);
            return NULL;
        }
        n->names[i] = strdup(sym);
        n->n = i + 1;
        if (!n->names[i]) {
            fail(c, "out of memory");
            return NULL;
        }
    }
    return n;
}

static ca_node *parse_fixed(parse_ctx *c, const json_t *j, const char *ns)
{
    const char *full;
    ca_node *n = named_new(c, j, CA_FIXED, ns, &full);
    const json_t *size = json_object_get(j, "size");
    if (!n)
        return NULL;
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > (1 << 24)) {
        fail(c, "fixed \"%.64s\" without a valid \"size\"", full);
        return NULL;
    }
    n->size = json_integer_value(size);
    return n;
}

static ca_node *parse_container(parse_ctx *c, const json_t *j, ca_kind kind, const char *ns,
                                int depth)
{
    const char *key = kind == CA_ARRAY ? "items" : "values";
    ca_node *n = node_new(c, kind);
    if (!n || alloc_members(c, n, 1, false) < 0)
        return NULL;
    if (!json_object_get(j, key)) {
        fail(c, "%s without \"%s\"", kind == CA_ARRAY ? "array" : "map", key);
        return NULL;
    }
    n->kids[0] = parse_node(c, json_object_get(j, key), ns, depth + 1);
    n->n = 1;
    return c->failed ? NULL : n;
}

static ca_node *parse_union(parse_ctx *c, const json_t *j, const char *ns, int depth)
{
    ca_node *n = node_new(c, CA_UNION);
    size_t count = json_array_size(j);
    if (!n || alloc_members(c, n, count, false) < 0)
        return NULL;
    if (count == 0) {
        fail(c, "empty union");
        return NULL;
    }
    for (size_t i = 0; i < count && !c->failed; i++) {
        const json_t *b = json_array_get(j, i);
        if (json_is_array(b)) {
            fail(c, "union directly inside a union");
            return NULL;
        }
        n->kids[i] = parse_node(c, b, ns, depth + 1);
        n->n = i + 1;
    }
    return c->failed ? NULL : n;
}

/* logicalType applies only to its underlying type; otherwise it is ignored,
 * as the specification asks. */
static void apply_logical(ca_node *n, const char *lt)
{
    if (!lt)
        return;
    if (n->kind == CA_LONG && strcmp(lt, "timestamp-millis") == 0)
        n->logical = CA_LT_TS_MILLIS;
    else if (n->kind == CA_LONG && strcmp(lt, "timestamp-micros") == 0)
        n->logical = CA_LT_TS_MICROS;
    else if (n->kind == CA_INT && strcmp(lt, "date") == 0)
        n->logical = CA_LT_DATE;
    else if (n->kind == CA_STRING && strcmp(lt, "uuid") == 0)
        n->logical = CA_LT_UUID;
}

static ca_node *parse_object(parse_ctx *c, const json_t *j, const char *ns, int depth)
{
    const json_t *t = json_object_get(j, "type");
    const char *type = json_string_value(t);
    ca_kind kind;
    if (!type) {
        if (json_is_object(t) || json_is_array(t))
            return parse_node(c, t, ns, depth + 1);
        fail(c, "schema object without a \"type\"");
        return NULL;
    }
    if (primitive_kind(type, &kind) == 0) {
        ca_node *n = node_new(c, kind);
        if (n)
            apply_logical(n, json_string_value(json_object_get(j, "logicalType")));
        return n;
    }
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0)
        return parse_record(c, j, ns, depth);
    if (strcmp(type, "enum") == 0)
        return parse_enum(c, j, ns);
    if (strcmp(type, "fixed") == 0)
        return parse_fixed(c, j, ns);
    if (strcmp(type, "array") == 0)
        return parse_container(c, j, CA_ARRAY, ns, depth);
    if (strcmp(type, "map") == 0)
        return parse_container(c, j, CA_MAP, ns, depth);
    return lookup(c, type, ns);
}

static ca_node *parse_node(parse_ctx *c, const json_t *j, const char *ns, int depth)
{
    if (c->failed)
        return NULL;
    if (depth > CON_AVRO_MAX_DEPTH) {
        fail(c, "schema nested deeper than %d", CON_AVRO_MAX_DEPTH);
        return NULL;
    }
    if (json_is_string(j)) {
        ca_kind kind;
        if (primitive_kind(json_string_value(j), &kind) == 0)
            return node_new(c, kind);
        return lookup(c, json_string_value(j), ns);
    }
    if (json_is_array(j))
        return parse_union(c, j, ns, depth);
    if (json_is_object(j))
        return parse_object(c, j, ns, depth);
    fail(c, "a schema must be a string, an array or an object");
    return NULL;
}

con_avro_schema *con_avro_schema_parse(const char *json_text, char *err, size_t errlen)
{
    json_error_t jerr;
    con_avro_schema *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->json = json_loads(json_text ? json_text : "", JSON_DECODE_ANY, &jerr);
    if (!s->json) {
        snprintf(err, errlen, "schema is not JSON: %s", jerr.text);
        con_avro_schema_free(s);
        return NULL;
    }
    parse_ctx c = {.s = s, .err = err, .errlen = errlen};
    s->root = parse_node(&c, s->json, "", 0);
    if (c.failed || !s->root) {
        if (!c.failed)
            snprintf(err, errlen, "invalid schema");
        con_avro_schema_free(s);
        return NULL;
    }
    return s;
}

void con_avro_schema_free(con_avro_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nnodes; i++) {
        ca_node *n = s->nodes[i];
        if (n->names) {
            for (size_t k = 0; k < n->n; k++)
                free(n->names[k]);
        }
        free(n->names);
        free(n->kids);
        free(n->fullname);
        free(n);
    }
    free(s->nodes);
    json_decref(s->json);
    free(s);
}

const json_t *con_avro_schema_json(const con_avro_schema *s)
{
    return s ? s->json : NULL;
}
