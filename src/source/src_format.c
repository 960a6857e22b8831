#include "src_format_int.h"
#include "src_jsnum.h"

#include <string.h>

/* The user object as a flat walk: OPEN key ... CLOSE around nested objects,
 * LEAF key for values. `inc` is the top-level field's inc/exc bit. */
enum { LEAF = SRC_NODE_LEAF, OPEN = SRC_NODE_OPEN, CLOSE = SRC_NODE_CLOSE };
typedef struct node {
    unsigned char kind;
    unsigned short inc;
    signed char field;
    const char *key;
    unsigned char klen;
} node;

#define L(i, f, k)                                                                                 \
    {                                                                                              \
        LEAF, SRC_INC_##i, SRC_F_##f, k, sizeof(k) - 1                                             \
    }
#define O(i, k)                                                                                    \
    {                                                                                              \
        OPEN, SRC_INC_##i, -1, k, sizeof(k) - 1                                                    \
    }
#define C(i)                                                                                       \
    {                                                                                              \
        CLOSE, SRC_INC_##i, -1, NULL, 0                                                            \
    }
/* clang-format off */
static const node schema[] = {
    L(GENDER, GENDER, "gender"),
    O(NAME, "name"), L(NAME, TITLE, "title"), L(NAME, FIRST, "first"), L(NAME, LAST, "last"),
    C(NAME),
    O(LOCATION, "location"),
    O(LOCATION, "street"), L(LOCATION, STREET_NO, "number"), L(LOCATION, STREET, "name"),
    C(LOCATION),
    L(LOCATION, CITY, "city"), L(LOCATION, STATE, "state"), L(LOCATION, COUNTRY, "country"),
    L(LOCATION, POSTCODE, "postcode"),
    O(LOCATION, "coordinates"), L(LOCATION, LAT, "latitude"), L(LOCATION, LON, "longitude"),
    C(LOCATION),
    O(LOCATION, "timezone"), L(LOCATION, TZ_OFFSET, "offset"),
    L(LOCATION, TZ_DESC, "description"), C(LOCATION),
    C(LOCATION),
    L(EMAIL, EMAIL, "email"),
    O(LOGIN, "login"), L(LOGIN, UUID, "uuid"), L(LOGIN, USERNAME, "username"),
    L(LOGIN, PASSWORD, "password"), L(LOGIN, SALT, "salt"), L(LOGIN, MD5, "md5"),
    L(LOGIN, SHA1, "sha1"), L(LOGIN, SHA256, "sha256"), C(LOGIN),
    O(DOB, "dob"), L(DOB, DOB_DATE, "date"), L(DOB, DOB_AGE, "age"), C(DOB),
    O(REGISTERED, "registered"), L(REGISTERED, REG_DATE, "date"), L(REGISTERED, REG_AGE, "age"),
    C(REGISTERED),
    L(PHONE, PHONE, "phone"), L(CELL, CELL, "cell"),
    O(ID, "id"), L(ID, ID_NAME, "name"), L(ID, ID_VALUE, "value"), C(ID),
    O(PICTURE, "picture"), L(PICTURE, PIC_LARGE, "large"), L(PICTURE, PIC_MEDIUM, "medium"),
    L(PICTURE, PIC_THUMB, "thumbnail"), C(PICTURE),
    L(NAT, NAT, "nat"),
};
/* clang-format on */
#define N_NODES (sizeof schema / sizeof *schema)

/* Calls back for every node of u that inc keeps. */
typedef void (*visit_fn)(void *ctx, const node *n, const src_value *v);

static void walk(const src_user *u, unsigned inc, visit_fn fn, void *ctx)
{
    for (size_t i = 0; i < N_NODES; i++) {
        const node *n = &schema[i];
        src_value v;
        if (!(inc & n->inc))
            continue;
        if (n->kind == LEAF && !src_user_value(u, (src_field)n->field, &v))
            continue;
        fn(ctx, n, n->kind == LEAF ? &v : NULL);
    }
}

/* ---- scalar encoders ---------------------------------------------------- */

/* Bytes JSON.stringify escapes: control characters, '"' and '\\'. */
static const unsigned char json_escape[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
                                               1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
                                               1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1};

static void json_escaped(us_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!json_escape[c])
            continue;
        us_buf_put(b, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            us_buf_put(b, "\\\"", 2);
            break;
        case '\\':
            us_buf_put(b, "\\\\", 2);
            break;
        case '\b':
            us_buf_put(b, "\\b", 2);
            break;
        case '\f':
            us_buf_put(b, "\\f", 2);
            break;
        case '\n':
            us_buf_put(b, "\\n", 2);
            break;
        case '\r':
            us_buf_put(b, "\\r", 2);
            break;
        case '\t':
            us_buf_put(b, "\\t", 2);
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            us_buf_put(b, esc, 6);
        }
        }
    }
    us_buf_put(b, s + start, n - start);
}

void src_json_string(us_buf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !json_escape[(unsigned char)s[i]])
        i++;
    if (i == n && us_buf_room(b, n + 2)) { /* the usual case: nothing to escape */
        char *p = b->data + b->len;
        p[0] = '"';
        memcpy(p + 1, s, n);
        p[n + 1] = '"';
        us_buf_commit(b, n + 2);
        return;
    }
    us_buf_putc(b, '"');
    json_escaped(b, s, n);
    us_buf_putc(b, '"');
}

void src_xml_text(us_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e;
        switch (s[i]) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&apos;";
            break;
        default:
            continue;
        }
        us_buf_put(b, s + start, i - start);
        us_buf_puts(b, e);
        start = i + 1;
    }
    us_buf_put(b, s + start, n - start);
}

void src_csv_field(us_buf *b, const char *s, size_t n)
{
    bool wrap = false, quote = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"')
            quote = wrap = true;
        else if (c == ',' || c == '\n' || c == '\r')
            wrap = true;
    }
    if (!wrap) {
        us_buf_put(b, s, n);
        return;
    }
    us_buf_putc(b, '"');
    if (!quote) {
        us_buf_put(b, s, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '"')
                us_buf_putc(b, '"');
            us_buf_putc(b, s[i]);
        }
    }
    us_buf_putc(b, '"');
}

/* JS value -> text as String(v) gives it (ints, and null as "null"). */
static void put_plain(us_buf *b, const src_value *v)
{
    if (v->t == SRC_V_INT)
        us_buf_put_i64(b, v->i);
    else if (v->t == SRC_V_NULL)
        us_buf_put(b, "null", 4);
    else
        us_buf_put(b, v->s, v->n);
}

void src_format_number(us_buf *b, double d)
{
    char tmp[40];
    us_buf_put(b, tmp, src_js_number_string(d, tmp));
}

/* ---- json and pretty ---------------------------------------------------- */

typedef struct json_ctx {
    us_buf *b;
    int depth;     /* 0 = inside the user object */
    bool first[4]; /* no member written yet at this depth */
    bool pretty;
} json_ctx;

static void json_sep(json_ctx *c)
{
    if (!c->first[c->depth])
        us_buf_putc(c->b, ',');
    c->first[c->depth] = false;
    if (c->pretty) {
        us_buf_putc(c->b, '\n');
        us_buf_fill(c->b, ' ', 6 + 2 * (size_t)c->depth);
    }
}

static void json_visit(void *ctx, const node *n, const src_value *v)
{
    json_ctx *c = ctx;
    if (n->kind == CLOSE) {
        c->depth--;
        if (c->pretty) {
            us_buf_putc(c->b, '\n');
            us_buf_fill(c->b, ' ', 6 + 2 * (size_t)c->depth);
        }
        us_buf_putc(c->b, '}');
        return;
    }
    json_sep(c);
    /* Keys are plain ASCII words: no escaping needed. */
    us_buf_putc(c->b, '"');
    us_buf_put(c->b, n->key, n->klen);
    us_buf_put(c->b, "\": ", c->pretty ? 3 : 2);
    if (n->kind == OPEN) {
        us_buf_putc(c->b, '{');
        c->first[++c->depth] = true;
    } else if (v->t == SRC_V_STR && v->plain && us_buf_room(c->b, v->n + 2)) {
        char *p = c->b->data + c->b->len;
        p[0] = '"';
        memcpy(p + 1, v->s, v->n);
        p[v->n + 1] = '"';
        us_buf_commit(c->b, v->n + 2);
    } else if (v->t == SRC_V_STR) {
        src_json_string(c->b, v->s, v->n);
    } else {
        put_plain(c->b, v);
    }
}

/* Compact JSON of a whole record (no inc/exc), the load generator's case:
 * the same bytes as the walk below (a unit test checks), with the keys and
 * punctuation between two values written as one literal. */
typedef struct run {
    const char *lit;
    unsigned char lit_n;
    signed char field;
} run;
#define R(lit, f)                                                                                  \
    {                                                                                              \
        lit, sizeof(lit) - 1, SRC_F_##f                                                            \
    }
/* clang-format off */
static const run full_runs[] = {
    R("{\"gender\":", GENDER), R(",\"name\":{\"title\":", TITLE), R(",\"first\":", FIRST),
    R(",\"last\":", LAST), R("},\"location\":{\"street\":{\"number\":", STREET_NO),
    R(",\"name\":", STREET), R("},\"city\":", CITY), R(",\"state\":", STATE),
    R(",\"country\":", COUNTRY), R(",\"postcode\":", POSTCODE),
    R(",\"coordinates\":{\"latitude\":", LAT), R(",\"longitude\":", LON),
    R("},\"timezone\":{\"offset\":", TZ_OFFSET), R(",\"description\":", TZ_DESC),
    R("}},\"email\":", EMAIL), R(",\"login\":{\"uuid\":", UUID), R(",\"username\":", USERNAME),
    R(",\"password\":", PASSWORD), R(",\"salt\":", SALT), R(",\"md5\":", MD5),
    R(",\"sha1\":", SHA1), R(",\"sha256\":", SHA256), R("},\"dob\":{\"date\":", DOB_DATE),
    R(",\"age\":", DOB_AGE), R("},\"registered\":{\"date\":", REG_DATE), R(",\"age\":", REG_AGE),
    R("},\"phone\":", PHONE), R(",\"cell\":", CELL), R(",\"id\":{\"name\":", ID_NAME),
    R(",\"value\":", ID_VALUE), R("},\"picture\":{\"large\":", PIC_LARGE),
    R(",\"medium\":", PIC_MEDIUM), R(",\"thumbnail\":", PIC_THUMB), R("},\"nat\":", NAT),
};
/* clang-format on */

static void json_user_full(us_buf *b, const src_user *u)
{
    for (size_t i = 0; i < sizeof full_runs / sizeof *full_runs; i++) {
        src_value v;
        if (!src_user_value(u, (src_field)full_runs[i].field, &v))
            continue; /* LEGO's country */
        us_buf_put(b, full_runs[i].lit, full_runs[i].lit_n);
        if (v.t != SRC_V_STR)
            put_plain(b, &v);
        else if (v.plain && us_buf_room(b, v.n + 2)) {
            char *p = b->data + b->len;
            p[0] = '"';
            memcpy(p + 1, v.s, v.n);
            p[v.n + 1] = '"';
            us_buf_commit(b, v.n + 2);
        } else
            src_json_string(b, v.s, v.n);
    }
    us_buf_putc(b, '}');
}

static void json_user(src_writer *w, const src_user *u)
{
    if (w->fmt == SRC_FMT_JSON && w->inc == SRC_INC_ALL && !w->generic) {
        if (w->users > 0)
            us_buf_putc(w->out, ',');
        json_user_full(w->out, u);
        return;
    }
    bool pretty = w->fmt == SRC_FMT_PRETTY;
    json_ctx c = {.b = w->out, .first = {true}, .pretty = pretty};
    if (w->users > 0)
        us_buf_putc(w->out, ',');
    if (pretty) {
        us_buf_putc(w->out, '\n');
        us_buf_fill(w->out, ' ', 4);
    }
    us_buf_putc(w->out, '{');
    walk(u, w->inc, json_visit, &c);
    if (pretty && !c.first[0]) {
        us_buf_putc(w->out, '\n');
        us_buf_fill(w->out, ' ', 4);
    }
    us_buf_putc(w->out, '}');
}

static void json_end(src_writer *w, const src_info *info)
{
    us_buf *b = w->out;
    bool p = w->fmt == SRC_FMT_PRETTY;
    if (p && w->users > 0)
        us_buf_put(b, "\n  ", 3);
    us_buf_putc(b, ']');
    if (info) {
        us_buf_puts(b, p ? ",\n  \"info\": {\n    \"seed\": " : ",\"info\":{\"seed\":");
        src_json_string(b, info->seed, info->seed_n);
        us_buf_puts(b, p ? ",\n    \"results\": " : ",\"results\":");
        us_buf_put_i64(b, info->results);
        us_buf_puts(b, p ? ",\n    \"page\": " : ",\"page\":");
        src_format_number(b, info->page);
        us_buf_puts(b, p ? ",\n    \"version\": \"1.4\"\n  }" : ",\"version\":\"1.4\"}");
    }
    us_buf_puts(b, p ? "\n}" : "}");
    if (w->callback)
        us_buf_put(b, ");", 2);
}

/* ---- csv ------------------------------------------------------------------ */

typedef struct csv_ctx {
    us_buf *b;
    const char *path[3];
    int depth;
    bool first;
    bool header;
} csv_ctx;

static void csv_visit(void *ctx, const node *n, const src_value *v)
{
    csv_ctx *c = ctx;
    if (n->kind == OPEN) {
        c->path[c->depth++] = n->key;
        return;
    }
    if (n->kind == CLOSE) {
        c->depth--;
        return;
    }
    if (!c->first)
        us_buf_putc(c->b, ',');
    c->first = false;
    if (c->header) {
        for (int i = 0; i < c->depth; i++) {
            us_buf_puts(c->b, c->path[i]);
            us_buf_putc(c->b, '.');
        }
        us_buf_puts(c->b, n->key);
    } else if (v->t == SRC_V_STR) {
        src_csv_field(c->b, v->s, v->n);
    } else {
        put_plain(c->b, v);
    }
}

static void csv_user(src_writer *w, const src_user *u)
{
    csv_ctx c = {.b = w->out, .first = true};
    if (w->users == 0) {
        c.header = true;
        walk(u, w->inc, csv_visit, &c);
        c = (csv_ctx){.b = w->out, .first = true};
    }
    us_buf_putc(w->out, '\n');
    walk(u, w->inc, csv_visit, &c);
}

/* ---- yaml and xml live in src_format_text.c --------------------------------- */

void src_writer_begin(src_writer *w, src_format fmt, unsigned inc, us_buf *out,
                      const char *callback, size_t callback_n)
{
    *w = (src_writer){.fmt = fmt, .out = out, .inc = inc};
    if (fmt == SRC_FMT_JSON || fmt == SRC_FMT_PRETTY) {
        if (callback) {
            w->callback = callback;
            w->callback_n = callback_n;
            us_buf_put(out, callback, callback_n);
            us_buf_putc(out, '(');
        }
        us_buf_puts(out, fmt == SRC_FMT_PRETTY ? "{\n  \"results\": [" : "{\"results\":[");
    } else if (fmt == SRC_FMT_XML) {
        us_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user>\n");
    }
}

void src_writer_user(src_writer *w, const src_user *u)
{
    switch (w->fmt) {
    case SRC_FMT_JSON:
    case SRC_FMT_PRETTY:
        json_user(w, u);
        break;
    case SRC_FMT_CSV:
        csv_user(w, u);
        break;
    case SRC_FMT_YAML:
        if (w->users == 0)
            us_buf_puts(w->out, "results:\n");
        src_yaml_user(w->out, u, w->inc);
        break;
    case SRC_FMT_XML:
        src_xml_user(w->out, u, w->inc);
        break;
    }
    w->users++;
}

void src_writer_end(src_writer *w, const src_info *info)
{
    switch (w->fmt) {
    case SRC_FMT_JSON:
    case SRC_FMT_PRETTY:
        json_end(w, info);
        break;
    case SRC_FMT_CSV:
        if (w->users == 0)
            us_buf_putc(w->out, '\n'); /* empty header, no rows */
        break;
    case SRC_FMT_YAML:
        src_yaml_end(w->out, w->users, info);
        break;
    case SRC_FMT_XML:
        src_xml_end(w->out, info);
        break;
    }
}

typedef struct adapter {
    void (*fn)(void *, int, const char *, const src_value *);
    void *ctx;
} adapter;

static void adapt(void *ctx, const node *n, const src_value *v)
{
    adapter *a = ctx;
    a->fn(a->ctx, n->kind, n->key, v);
}

void src_format_walk(const src_user *u, unsigned inc,
                     void (*fn)(void *, int, const char *, const src_value *), void *ctx)
{
    adapter a = {fn, ctx};
    walk(u, inc, adapt, &a);
}
