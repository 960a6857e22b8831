#include "src_request.h"
#include "src_jsnum.h"
#include "src_nat.h"

#include <math.h>
#include <string.h>

static const char *const field_names[12] = {"gender", "name",       "location", "email",
                                            "login",  "registered", "dob",      "phone",
                                            "cell",   "id",         "picture",  "nat"};

static bool given(const src_qvalue *v)
{
    return v->count > 0 && v->n > 0; /* what JS's `options.x ||` accepts */
}

static bool equals(const src_qvalue *v, const char *lit)
{
    return v->count > 0 && v->n == strlen(lit) && memcmp(v->s, lit, v->n) == 0;
}

/* routes/api.js: anything but an integer in 1..5000 (or two values) is 1. */
static int sanitize_results(const src_qvalue *v)
{
    if (!given(v) || v->count > 1)
        return 1;
    double x = src_js_number(v->s, v->n);
    if (!(x >= 1 && x <= SRC_MAX_RESULTS) || x != floor(x))
        return 1;
    return (int)x;
}

/* Number(page) || 1, then 1 unless 0 <= page <= 10000 (fractions kept). */
static double sanitize_page(const src_qvalue *v)
{
    double x = v->count ? src_js_number(v->s, v->n) : NAN;
    if (isnan(x) || x == 0 || x < 0 || x > 10000)
        return 1;
    return x;
}

static void js_trim(const char **s, size_t *n)
{
    size_t k;
    while (*n && (k = src_js_space_len(*s, *n)) > 0)
        *s += k, *n -= k;
    size_t end = 0;
    for (size_t i = 0; i < *n;) {
        k = src_js_space_len(*s + i, *n - i);
        i += k ? k : 1;
        if (!k)
            end = i;
    }
    *n = end;
}

/* Calls fn for each non-empty item of a comma list. */
static void each_item(const char *s, size_t n, void (*fn)(void *, const char *, size_t), void *ctx)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        if (i > start)
            fn(ctx, s + start, i - start);
        start = i + 1;
    }
}

static void add_field(void *ctx, const char *s, size_t n)
{
    unsigned *mask = ctx;
    js_trim(&s, &n);
    for (int f = 0; f < 12; f++) {
        size_t l = strlen(field_names[f]);
        size_t i = 0;
        while (i < n && i < l &&
               (s[i] | (s[i] >= 'A' && s[i] <= 'Z' ? 0x20 : 0)) == field_names[f][i])
            i++;
        if (i == n && i == l)
            *mask |= 1u << f;
    }
}

static unsigned field_mask(const src_qvalue *inc, const src_qvalue *exc)
{
    unsigned in = 0, ex = 0;
    if (given(inc))
        each_item(inc->s, inc->n, add_field, &in);
    else
        in = SRC_INC_ALL;
    if (given(exc))
        each_item(exc->s, exc->n, add_field, &ex);
    return in & ~ex;
}

typedef struct nat_acc {
    uint32_t *weight;
    uint32_t total;
    bool invalid;
} nat_acc;

/* JS toUpperCase of an item, kept only if it is one of the 21 codes. */
static void add_nat(void *ctx, const char *s, size_t n)
{
    nat_acc *a = ctx;
    char up[3];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 3; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'a' && c <= 'z')
            up[k++] = (char)(c - 32);
        else if (c >= 'A' && c <= 'Z')
            up[k++] = (char)c;
        else if (c == 0xC4 && i + 1 < n && (unsigned char)s[i + 1] == 0xB1) /* dotless i */
            up[k++] = 'I', i++;
        else if (c == 0xC5 && i + 1 < n && (unsigned char)s[i + 1] == 0xBF) /* long s */
            up[k++] = 'S', i++;
        else
            k = 3; /* anything else cannot upper-case into a code */
    }
    int nat = k == 2 ? src_nat_from_code(up, 2) : -1;
    if (nat < 0)
        a->invalid = true;
    else
        a->weight[nat]++, a->total++;
}

static void parse_nat(src_request *r, const src_qs *q)
{
    const src_qvalue *v = given(&q->p[SRC_P_NAT]) ? &q->p[SRC_P_NAT] : &q->p[SRC_P_NATIONALITY];
    nat_acc a = {r->nat_weight, 0, false};
    memset(r->nat_weight, 0, sizeof r->nat_weight);
    if (given(v))
        each_item(v->s, v->n, add_nat, &a);
    /* An invalid code voids the list (upstream); an empty list ("nat=,")
     * would crash upstream, here it means every nationality. */
    if (!a.invalid && a.total > 0) {
        r->gen.nat_weight = r->nat_weight;
        r->gen.nat_weight_total = a.total;
    }
}

static src_format parse_format(const src_qs *q)
{
    static const struct {
        const char *name;
        src_format f;
    } map[] = {{"json", SRC_FMT_JSON}, {"pretty", SRC_FMT_PRETTY}, {"prettyjson", SRC_FMT_PRETTY},
               {"csv", SRC_FMT_CSV},   {"yaml", SRC_FMT_YAML},     {"xml", SRC_FMT_XML}};
    const src_qvalue *v = given(&q->p[SRC_P_FORMAT]) ? &q->p[SRC_P_FORMAT] : &q->p[SRC_P_FMT];
    if (!given(v) || v->n > 10)
        return SRC_FMT_JSON;
    char low[11];
    for (size_t i = 0; i < v->n; i++)
        low[i] = (char)(v->s[i] >= 'A' && v->s[i] <= 'Z' ? v->s[i] + 32 : v->s[i]);
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strlen(map[i].name) == v->n && memcmp(map[i].name, low, v->n) == 0)
            return map[i].f;
    return SRC_FMT_JSON;
}

/* Number(x) of each '-'-separated part, folded with min or max (NaN wins). */
static double fold_parts(const char *s, size_t n, bool want_max)
{
    double acc = want_max ? -INFINITY : INFINITY;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '-')
            continue;
        double x = src_js_number(s + start, i - start);
        if (isnan(x))
            return NAN;
        acc = want_max ? fmax(acc, x) : fmin(acc, x);
        start = i + 1;
    }
    return acc;
}

typedef struct pw_acc {
    src_gen_opts *g;
    unsigned seen;
    const char *last;
    size_t last_n;
} pw_acc;

static void add_charset(void *ctx, const char *s, size_t n)
{
    static const char *const names[4] = {"special", "upper", "lower", "number"};
    static const char *const sets[4] = {" !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz",
                                        "0123456789"};
    pw_acc *a = ctx;
    a->last = s, a->last_n = n;
    for (int k = 0; k < 4; k++) {
        if (strlen(names[k]) != n || memcmp(names[k], s, n) != 0 || (a->seen & (1u << k)))
            continue;
        a->seen |= 1u << k;
        size_t l = strlen(sets[k]);
        memcpy(a->g->pw_charset + a->g->pw_charset_len, sets[k], l);
        a->g->pw_charset_len += (int)l;
    }
}

/* genPassword(): "CHARSETS,...,LEN" or "...,MIN-MAX". */
static void parse_password(src_gen_opts *g, const src_qvalue *v)
{
    g->pw_custom = false;
    g->pw_charset_len = 0;
    if (v->count == 0 || v->n == 0)
        return;
    pw_acc a = {g, 0, NULL, 0};
    each_item(v->s, v->n, add_charset, &a);
    if (a.seen == 0)
        return;
    /* The length is the last comma item, even an empty one. */
    const char *len = v->s[v->n - 1] == ',' ? v->s + v->n : a.last;
    size_t len_n = v->s[v->n - 1] == ',' ? 0 : a.last_n;
    double min, max;
    if (memchr(len, '-', len_n)) {
        min = fold_parts(len, len_n, false);
        max = fold_parts(len, len_n, true);
    } else {
        min = max = src_js_number(len, len_n);
    }
    min = (isnan(min) || min > 64 || min < 1) ? 8 : min;
    max = (isnan(max) || max > 64 || max < 1 || max < min) ? 64 : max;
    g->pw_custom = true;
    g->pw_min = min;
    g->pw_max = max;
}

/* An 18-character seed ends in parseInt(last two, 16), an index into the
 * nationalities; anything outside 0..20 makes upstream throw. */
static void parse_seed(src_request *r, const src_qvalue *v)
{
    r->seed_given = given(v);
    r->seed = r->seed_given ? v->s : "";
    r->seed_n = r->seed_given ? v->n : 0;
    r->nat18 = -1;
    r->bad_seed = false;
    if (!r->seed_given || src_js_utf16_len(r->seed, r->seed_n) != 18)
        return;
    size_t off = src_js_utf16_offset(r->seed, r->seed_n, 16);
    double idx = src_js_parse_hex(r->seed + off, r->seed_n - off);
    if (isnan(idx) || idx < 0 || idx >= SRC_NAT_REAL)
        r->bad_seed = true;
    else
        r->nat18 = (int)idx;
}

void src_request_from_qs(src_request *r, const src_qs *q, bool quirks)
{
    memset(r, 0, sizeof *r);
    r->results = sanitize_results(&q->p[SRC_P_RESULTS]);
    r->page = sanitize_page(&q->p[SRC_P_PAGE]);
    parse_seed(r, &q->p[SRC_P_SEED]);
    const src_qvalue *lego = &q->p[SRC_P_LEGO];
    r->lego = lego->count > 0 && !equals(lego, "false");
    r->gen.gender = equals(&q->p[SRC_P_GENDER], "male")     ? 0
                    : equals(&q->p[SRC_P_GENDER], "female") ? 1
                                                            : -1;
    if (quirks && r->seed_given)
        r->gen.gender = -1; /* upstream ignores gender whenever a seed is given */
    parse_nat(r, q);
    r->gen.fixed_nat = r->nat18 >= 0 ? r->nat18 : r->lego ? SRC_NAT_LEGO : -1;
    r->inc = field_mask(&q->p[SRC_P_INC], &q->p[SRC_P_EXC]);
    r->format = parse_format(q);
    r->dl = q->p[SRC_P_DL].count > 0 || q->p[SRC_P_DOWNLOAD].count > 0;
    r->noinfo = q->p[SRC_P_NOINFO].count > 0 && !(quirks && equals(lego, "false"));
    r->has_callback = q->p[SRC_P_CALLBACK].count > 0;
    r->callback = r->has_callback ? q->p[SRC_P_CALLBACK].s : NULL;
    r->callback_n = r->has_callback ? q->p[SRC_P_CALLBACK].n : 0;
    parse_password(&r->gen, &q->p[SRC_P_PASSWORD]);
    r->gen.quirks = quirks;
}

size_t src_request_key_string(const src_request *r, const char *seed, size_t seed_n, char *out)
{
    size_t n = seed_n;
    if (r->seed_given && src_js_utf16_len(seed, seed_n) == 18)
        n = src_js_utf16_offset(seed, seed_n, 16);
    memcpy(out, seed, n);
    if (r->page != 1)
        n += src_js_number_string(r->page, out + n);
    return n;
}
