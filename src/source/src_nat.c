#include "src_nat.h"

#include <stdio.h>
#include <string.h>

#define MAX_ALT 18

/* Formats of one nationality. Phone alternatives are picked uniformly. */
typedef struct nat_spec {
    const char *code;
    const char *country;
    const char *phone[MAX_ALT];
    const char *cell[8];
    const char *id_name;         /* "" = id.value null */
    const char *id_pat;          /* NULL: computed by a function below */
    const char *postcode_pat[6]; /* string postcodes; NULL = numeric */
    int postcode_lo, postcode_hi;
} nat_spec;

#define UA_PREFIXES(rest)                                                                          \
    {                                                                                              \
        "(066) " rest, "(067) " rest, "(068) " rest, "(096) " rest, "(097) " rest, "(098) " rest,  \
            "(099) " rest                                                                          \
    }

/* clang-format off */
static const nat_spec specs[SRC_NAT_COUNT] = {
    {"AU", "Australia", {"0d-dddd-dddd"}, {"04dd-ddd-ddd"}, "TFN", "ddddddddd", {0}, 200, 9999},
    {"BR", "Brazil", {"(dd) dddd-dddd"}, {"(dd) dddd-dddd"}, "CPF", "ddd.ddd.ddd-dd", {0},
     10000, 99999},
    {"CA", "Canada", {"Ldd Ldd-dddd"}, {"Ldd Ldd-dddd"}, "SIN", NULL, {"LdL dLd"}, 0, 0},
    {"CH", "Switzerland", {"07[56789] ddd dd dd"}, {"07[56789] ddd dd dd"}, "AVS",
     "756.dddd.dddd.dd", {0}, 1000, 9999},
    {"DE", "Germany", {"0ddd-ddddddd"}, {"017d-ddddddd"}, "SVNR", NULL, {0}, 10000, 99999},
    {"DK", "Denmark", {"dddddddd"}, {"dddddddd"}, "CPR", NULL, {0}, 10000, 99999},
    {"ES", "Spain", {"9dd-ddd-ddd"}, {"6dd-ddd-ddd"}, "DNI", "dddddddd-L", {0}, 10000, 99999},
    {"FI", "Finland", {"0[23456789]-ddd-ddd"}, {"04d-ddd-dd-dd"}, "HETU", NULL, {0}, 10000,
     99999},
    {"FR", "France", {"0[12345]-dd-dd-dd-dd"}, {"06-dd-dd-dd-dd"}, "INSEE", NULL, {0}, 10000,
     99999},
    {"GB", "United Kingdom",
     {"01ddd ddddd", "01ddd dddddd", "011dddd ddd dddd", "01d1 ddd dddd", "013873 ddddd",
      "015242 ddddd", "015394 ddddd", "015395 ddddd", "015396 ddddd", "016973 ddddd",
      "016974 ddddd", "016977 dddd", "016977 ddddd", "017683 ddddd", "017684 ddddd",
      "017687 ddddd", "019467 ddddd", "02d dddd dddd"},
     {"07ddd dddddd"}, "NINO", "[ABCEGHJKLMNOPRSTWXYZ][ABCEGHJKLMNPRSTWXYZ] dd dd dd L",
     {"Ld dCC", "LLd dCC", "Ldd dCC", "LLdd dCC", "LLdL dCC", "LdL dCC"}, 0, 0},
    {"IE", "Ireland", {"0[1234567]1-ddd-dddd"}, {"081-ddd-dddd"}, "PPS", NULL, {0}, 10000,
     99999},
    {"IN", "India", {"[789]ddddddddd"}, {"[789]ddddddddd"}, "UIDAI", "dddddddddddd", {0}, 10000,
     99999},
    {"IR", "Iran", {"0dd-dddddddd"}, {"09dd-ddd-dddd"}, "", NULL, {0}, 10000, 99999},
    {"MX", "Mexico", {"(6dd) ddd dddd"}, {"(6dd) ddd dddd"}, "NSS", "dd dd dd dddd d", {0},
     10000, 99999},
    {"NL", "Netherlands", {"(0dd) ddddddd", "(0ddd) dddddd"}, {"(06) dddddddd"}, "BSN",
     "dddddddd", {"dddd LL"}, 0, 0},
    {"NO", "Norway", {"[235678]ddddddd"}, {"[49]ddddddd"}, "FN", NULL, {"dddd"}, 0, 0},
    {"NZ", "New Zealand", {"(ddd)-ddd-dddd"}, {"(ddd)-ddd-dddd"}, "", NULL, {0}, 10000, 99999},
    {"RS", "Serbia", {"0[123]d-dddd-ddd"}, {"06d-dddd-ddd"}, "SID", "ddddddddd", {0}, 10000,
     99999},
    {"TR", "Turkey", {"(ddd)-ddd-dddd"}, {"(ddd)-ddd-dddd"}, "", NULL, {0}, 10000, 99999},
    {"UA", "Ukraine", UA_PREFIXES("Ldd-dddd"), UA_PREFIXES("Ldd-dddd"), "", NULL, {0}, 10000,
     99999},
    {"US", "United States", {"(Ndd) Ndd-dddd"}, {"(Ndd) Ndd-dddd"}, "SSN", NULL, {0}, 10000,
     99999},
    {"LEGO", NULL, {"(ddd)-ddd-dddd"}, {"(ddd)-ddd-dddd"}, "SN", "dddddddddddd", {0}, 10000,
     99999},
};
/* clang-format on */

const char *src_nat_code(int nat)
{
    return nat >= 0 && nat < SRC_NAT_COUNT ? specs[nat].code : "";
}

const char *src_nat_country(int nat)
{
    return nat >= 0 && nat < SRC_NAT_COUNT ? specs[nat].country : NULL;
}

int src_nat_from_code(const char *s, size_t n)
{
    if (n != 2)
        return -1;
    for (int i = 0; i < SRC_NAT_REAL; i++)
        if (specs[i].code[0] == s[0] && specs[i].code[1] == s[1])
            return i;
    return -1;
}

static const char UK_INWARD[] = "ABDEFGHJLNPQRSTUWXYZ";

size_t src_pattern(src_rng *r, const char *pat, char *out)
{
    size_t n = 0;
    for (const char *p = pat; *p; p++) {
        switch (*p) {
        case 'd':
            out[n++] = (char)('0' + src_rng_below(r, 10));
            break;
        case 'N':
            out[n++] = (char)('2' + src_rng_below(r, 8));
            break;
        case 'L':
            out[n++] = (char)('A' + src_rng_below(r, 26));
            break;
        case 'C':
            out[n++] = UK_INWARD[src_rng_below(r, sizeof UK_INWARD - 1)];
            break;
        case '[': {
            const char *end = strchr(p, ']');
            if (!end || end == p + 1) { /* not a set: copy literally */
                out[n++] = *p;
                break;
            }
            out[n++] = p[1 + src_rng_below(r, (uint32_t)(end - p - 1))];
            p = end;
            break;
        }
        default:
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return n;
}

static size_t pick_pattern(src_rng *r, const char *const *alts, int max, char *out)
{
    int n = 0;
    while (n < max && alts[n])
        n++;
    return src_pattern(r, alts[src_rng_below(r, (uint32_t)n)], out);
}

static void set_postcode(src_user *u, const nat_spec *s, src_rng *r)
{
    if (s->postcode_pat[0]) {
        u->postcode_is_str = true;
        u->n_postcode = (uint8_t)pick_pattern(r, s->postcode_pat, 6, u->postcode_s);
    } else {
        u->postcode_is_str = false;
        u->postcode = (int)src_rng_range(r, s->postcode_lo, s->postcode_hi);
    }
}

void src_nat_inject(src_user *u, src_rng *r, bool quirks, int64_t dob_ms)
{
    const nat_spec *s = &specs[u->nat];
    if (u->nat == SRC_NAT_CH) {
        static const char *const ch_female[] = {"Mademoiselle", "Madame"};
        u->title = u->male ? "Monsieur" : ch_female[src_rng_below(r, 2)];
        u->n_title = (uint8_t)strlen(u->title);
    }
    set_postcode(u, s, r);
    if (!quirks && (u->nat == SRC_NAT_CA || u->nat == SRC_NAT_UA)) {
        /* Digits where upstream prints letters by mistake. */
        u->n_phone = (uint8_t)src_natid_fixed_phone(u->nat, r, u->phone);
        u->n_cell = (uint8_t)src_natid_fixed_phone(u->nat, r, u->cell);
    } else {
        u->n_phone = (uint8_t)pick_pattern(r, s->phone, MAX_ALT, u->phone);
        u->n_cell = (uint8_t)pick_pattern(r, s->cell, 8, u->cell);
    }
    u->id_name = s->id_name;
    u->id_null = s->id_name[0] == '\0';
    if (u->id_null)
        u->n_id = 0;
    else if (s->id_pat)
        u->n_id = (uint8_t)src_pattern(r, s->id_pat, u->id_value);
    else
        u->n_id = (uint8_t)src_natid_compute(u, r, quirks, dob_ms);
}
