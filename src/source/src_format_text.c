/* YAML (yamljs 0.2.10) and XML (js2xmlparser 1.0.0) writers. */
#include "src_format_int.h"
#include "src_jsnum.h"

#include <math.h>
#include <string.h>

/* ---- YAML scalars: yamljs Inline.dump for strings ---------------------- */

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Utils.isNumeric: !isNaN(s) and something left once white space is gone. */
static bool js_numeric(const char *s, size_t n)
{
    bool content = false;
    for (size_t i = 0; i < n;) {
        size_t k = src_js_space_len(s + i, n - i);
        if (k == 0) {
            content = true;
            break;
        }
        i += k;
    }
    return content && !isnan(src_js_number(s, n));
}

/* Escaper.PATTERN_CHARACTERS_TO_ESCAPE. Its "\xc2\x85"-style alternatives
 * are JS strings of two or three characters ("Â" + U+0085, ...), so they
 * only match those character sequences, which we match in UTF-8. */
static bool needs_double_quotes(const char *s, size_t n)
{
    static const char *const odd[] = {"\xC3\x82\xC2\x85", "\xC3\x82\xC2\xA0",
                                      "\xC3\xA2\xC2\x80\xC2\xA8", "\xC3\xA2\xC2\x80\xC2\xA9"};
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20)
            return true;
        if ((unsigned char)s[i] == 0xC3)
            for (int k = 0; k < 4; k++) {
                size_t l = strlen(odd[k]);
                if (n - i >= l && memcmp(s + i, odd[k], l) == 0)
                    return true;
            }
    }
    return false;
}

/* Escaper.PATTERN_SINGLE_QUOTING: [\s'":{}[\],&*#?] anywhere, or a first
 * character among - ? | < > = ! % @ ` */
static bool needs_single_quotes(const char *s, size_t n)
{
    if (n && strchr("-?|<>=!%@`", s[0]) && s[0] != '\0')
        return true;
    for (size_t i = 0; i < n; i++) {
        if (s[i] && strchr("'\":{}[],&*#?", s[i]))
            return true;
        if (src_js_space_len(s + i, n - i))
            return true;
    }
    return false;
}

/* Utils.PATTERN_DATE for strings that reach it (a date-time always has a
 * ':' and is single-quoted before): YYYY-M?M-D?D. */
static bool looks_like_date(const char *s, size_t n)
{
    size_t i = 0, k;
    if (n < 8 || !all_digits(s, 4) || s[4] != '-')
        return false;
    for (i = 5, k = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        k++;
    if (k < 1 || k > 2 || i >= n || s[i] != '-')
        return false;
    for (i++, k = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        k++;
    return k >= 1 && k <= 2 && i == n;
}

static bool reserved_word(const char *s, size_t n)
{
    static const char *const words[] = {"null", "~", "true", "false"};
    for (int w = 0; w < 4; w++) {
        size_t l = strlen(words[w]);
        if (l != n)
            continue;
        size_t i = 0;
        while (i < n && (s[i] | 0x20) == (words[w][i] | 0x20))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static void yaml_double_quoted(us_buf *b, const char *s, size_t n)
{
    static const char *const ctl[32] = {
        "\\0",   "\\x01", "\\x02", "\\x03", "\\x04", "\\x05", "\\x06", "\\a",
        "\\b",   "\\t",   "\\n",   "\\v",   "\\f",   "\\r",   "\\x0e", "\\x0f",
        "\\x10", "\\x11", "\\x12", "\\x13", "\\x14", "\\x15", "\\x16", "\\x17",
        "\\x18", "\\x19", "\\x1a", "\\e",   "\\x1c", "\\x1d", "\\x1e", "\\x1f"};
    us_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20)
            us_buf_puts(b, ctl[c]);
        else if (c == '\\' || c == '"')
            us_buf_putc(b, '\\'), us_buf_putc(b, (char)c);
        else if (c == 0xC2 && i + 1 < n && (s[i + 1] == '\x85' || s[i + 1] == '\xA0'))
            us_buf_puts(b, s[++i] == '\x85' ? "\\N" : "\\_");
        else if (c == 0xE2 && n - i >= 3 && s[i + 1] == '\x80' &&
                 (s[i + 2] == '\xA8' || s[i + 2] == '\xA9'))
            us_buf_puts(b, s[i + 2] == '\xA8' ? "\\L" : "\\P"), i += 2;
        else
            us_buf_putc(b, (char)c);
    }
    us_buf_putc(b, '"');
}

void src_yaml_string(us_buf *b, const char *s, size_t n)
{
    bool quote_plain = all_digits(s, n) || js_numeric(s, n);
    if (quote_plain || (!needs_double_quotes(s, n) && !needs_single_quotes(s, n) && n &&
                        (looks_like_date(s, n) || reserved_word(s, n)))) {
        us_buf_putc(b, '\'');
        us_buf_put(b, s, n);
        us_buf_putc(b, '\'');
    } else if (needs_double_quotes(s, n)) {
        yaml_double_quoted(b, s, n);
    } else if (needs_single_quotes(s, n)) {
        us_buf_putc(b, '\'');
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\'')
                us_buf_putc(b, '\'');
            us_buf_putc(b, s[i]);
        }
        us_buf_putc(b, '\'');
    } else if (n == 0) {
        us_buf_put(b, "\"\"", 2);
    } else {
        us_buf_put(b, s, n);
    }
}

static void yaml_value(us_buf *b, const src_value *v)
{
    if (v->t == SRC_V_STR)
        src_yaml_string(b, v->s, v->n);
    else if (v->t == SRC_V_INT)
        us_buf_put_i64(b, v->i);
    else
        us_buf_put(b, "null", 4);
}

/* ---- YAML records ---------------------------------------------------------- */

typedef struct yaml_ctx {
    us_buf *b;
    int depth;
    bool first;
} yaml_ctx;

static void yaml_visit(void *ctx, int kind, const char *key, const src_value *v)
{
    yaml_ctx *c = ctx;
    us_buf *b = c->b;
    if (kind == SRC_NODE_CLOSE) {
        if (c->depth-- == 2)
            us_buf_put(b, "}\n", 2);
        return;
    }
    if (c->depth == 2) { /* the fourth level is written inline */
        if (!c->first)
            us_buf_put(b, ", ", 2);
        c->first = false;
    } else {
        us_buf_fill(b, ' ', 8 + 4 * (size_t)c->depth);
    }
    us_buf_puts(b, key);
    if (kind == SRC_NODE_OPEN) {
        us_buf_puts(b, c->depth == 1 ? ": {" : ":\n");
        c->first = true;
        c->depth++;
        return;
    }
    us_buf_put(b, ": ", 2);
    yaml_value(b, v);
    if (c->depth < 2)
        us_buf_putc(b, '\n');
}

void src_yaml_user(us_buf *b, const src_user *u, unsigned inc)
{
    if (inc == 0) {
        us_buf_puts(b, "    - {}\n");
        return;
    }
    us_buf_puts(b, "    -\n");
    yaml_ctx c = {.b = b};
    src_format_walk(u, inc, yaml_visit, &c);
}

void src_yaml_end(us_buf *b, size_t users, const src_info *info)
{
    if (users == 0)
        us_buf_puts(b, "results: []\n");
    if (!info)
        return;
    us_buf_puts(b, "info:\n    seed: ");
    src_yaml_string(b, info->seed, info->seed_n);
    us_buf_puts(b, "\n    results: ");
    us_buf_put_i64(b, info->results);
    us_buf_puts(b, "\n    page: ");
    src_format_number(b, info->page);
    us_buf_puts(b, "\n    version: '1.4'\n");
}

/* ---- XML --------------------------------------------------------------------- */

typedef struct xml_ctx {
    us_buf *b;
    int depth;
    const char *open[4];
} xml_ctx;

static void xml_visit(void *ctx, int kind, const char *key, const src_value *v)
{
    xml_ctx *c = ctx;
    us_buf *b = c->b;
    if (kind == SRC_NODE_CLOSE)
        key = c->open[--c->depth];
    us_buf_fill(b, '\t', 2 + (size_t)c->depth);
    us_buf_putc(b, '<');
    if (kind == SRC_NODE_CLOSE)
        us_buf_putc(b, '/');
    us_buf_puts(b, key);
    us_buf_putc(b, '>');
    if (kind == SRC_NODE_OPEN) {
        c->open[c->depth++] = key;
    } else if (kind == SRC_NODE_LEAF) {
        if (v->t == SRC_V_STR)
            src_xml_text(b, v->s, v->n);
        else if (v->t == SRC_V_INT)
            us_buf_put_i64(b, v->i);
        us_buf_put(b, "</", 2);
        us_buf_puts(b, key);
        us_buf_putc(b, '>');
    }
    us_buf_putc(b, '\n');
}

void src_xml_user(us_buf *b, const src_user *u, unsigned inc)
{
    if (inc == 0) {
        us_buf_puts(b, "\t<results/>\n");
        return;
    }
    us_buf_puts(b, "\t<results>\n");
    xml_ctx c = {.b = b};
    src_format_walk(u, inc, xml_visit, &c);
    us_buf_puts(b, "\t</results>\n");
}

void src_xml_end(us_buf *b, const src_info *info)
{
    if (info) {
        us_buf_puts(b, "\t<info>\n\t\t<seed>");
        src_xml_text(b, info->seed, info->seed_n);
        us_buf_puts(b, "</seed>\n\t\t<results>");
        us_buf_put_i64(b, info->results);
        us_buf_puts(b, "</results>\n\t\t<page>");
        src_format_number(b, info->page);
        us_buf_puts(b, "</page>\n\t\t<version>1.4</version>\n\t</info>\n");
    }
    us_buf_puts(b, "</user>");
}
