/* Identity numbers that need more than a pattern: check digits (SIN, FN,
 * PPS, HETU, INSEE), dates of birth (SVNR, CPR, HETU, INSEE, FN) or
 * rejection of reserved values (SSN). With `quirks` the output keeps
 * upstream's visible bugs (see README "Upstream bugs"). */
#include "src_nat.h"

#include <stdio.h>
#include <string.h>

/* German pension insurance area numbers (Bereichsnummern). */
static const char *const de_areas[] = {
    "02", "03", "04", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18",
    "19", "20", "21", "23", "24", "25", "26", "28", "29", "38", "39", "40", "42", "43",
    "44", "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "56", "57",
    "58", "59", "60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70", "71",
    "72", "73", "74", "75", "76", "77", "78", "79", "80", "81", "82", "89"};

typedef struct dob_parts {
    int y, m, d;
} dob_parts;

static dob_parts dob_of(int64_t ms)
{
    dob_parts p;
    src_civil(ms, &p.y, &p.m, &p.d);
    return p;
}

/* Upstream prints Date#getYear() (year - 1900: "100" for 2000); fixed: YY. */
static int year_field(int y, bool quirks, char *out)
{
    return quirks ? snprintf(out, 16, "%d", y - 1900) : snprintf(out, 16, "%02d", y % 100);
}

static size_t digits(src_rng *r, char *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = (char)('0' + src_rng_below(r, 10));
    out[n] = '\0';
    return (size_t)n;
}

/* Canadian SIN: 8 digits and the Luhn check digit (uniform over valid SINs,
 * like upstream's redraw-until-valid). */
static size_t ca_sin(src_rng *r, char *out)
{
    int sum = 0;
    digits(r, out, 8);
    for (int i = 0; i < 8; i++) {
        int v = (out[i] - '0') * (i % 2 ? 2 : 1);
        sum += v > 9 ? v - 9 : v;
    }
    out[8] = (char)('0' + (10 - sum % 10) % 10);
    out[9] = '\0';
    return 9;
}

static size_t de_svnr(const src_user *u, src_rng *r, bool quirks, dob_parts b, char *out)
{
    char yy[16];
    year_field(b.y, quirks, yy);
    const char *area = de_areas[src_rng_below(r, sizeof de_areas / sizeof *de_areas)];
    int gg = (int)(u->male ? src_rng_range(r, 0, 49) : src_rng_range(r, 50, 99));
    /* The last name's first character, whole even when it is not ASCII. */
    size_t cl = 1;
    unsigned char c0 = (unsigned char)u->last->s[0];
    if (c0 >= 0xC0)
        cl = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : 2;
    if (cl > u->last->n)
        cl = u->last->n;
    return (size_t)snprintf(out, 24, "%s %02d%02d%s %.*s %02d%d", area, b.d, b.m, yy, (int)cl,
                            u->last->s, gg, (int)src_rng_below(r, 10));
}

static size_t dk_cpr(src_rng *r, bool quirks, dob_parts b, char *out)
{
    char yy[16];
    year_field(b.y, quirks, yy);
    int n = snprintf(out, 24, "%02d%02d%s-", b.d, b.m, yy);
    return (size_t)n + digits(r, out + n, 4);
}

/* Finnish HETU. Upstream builds it from an invalid Date and prints
 * "NaNNA" + 2 digits + gender digit + "undefined"; fixed: DDMMYY, century
 * sign, individual number (odd for men) and the mod-31 check character. */
static size_t fi_hetu(const src_user *u, src_rng *r, bool quirks, dob_parts b, char *out)
{
    static const char check[] = "0123456789ABCDEFHJKLMNPRSTUVWXY";
    int parity = (int)src_rng_below(r, 5) * 2 + (u->male ? 1 : 0);
    if (quirks) {
        int zz = (int)src_rng_below(r, 100);
        return (size_t)sprintf(out, "NaNNA%02d%dundefined", zz, parity);
    }
    int zzz = (int)src_rng_range(r, 0, 89) * 10 + parity;
    if (zzz < 2)
        zzz += 10;
    long num = ((long)b.d * 10000 + b.m * 100 + b.y % 100) * 1000 + zzz;
    return (size_t)sprintf(out, "%02d%02d%02d%c%03d%c", b.d, b.m, b.y % 100,
                           b.y >= 2000 ? 'A' : '-', zzz, check[num % 31]);
}

/* French INSEE: G YY MM 8 digits, key 97 - n mod 97. Upstream's MM is the
 * 0-based month and YY is getYear(); fixed uses 1-based month and YY. */
static size_t fr_insee(const src_user *u, src_rng *r, bool quirks, dob_parts b, char *out)
{
    char yy[16], body[24];
    year_field(b.y, quirks, yy);
    char rest[9];
    digits(r, rest, 8);
    int n = snprintf(body, sizeof body, "%d%s%02d%s", u->male ? 1 : 2, yy, quirks ? b.m - 1 : b.m,
                     rest);
    unsigned long long v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (unsigned)(body[i] - '0');
    return (size_t)snprintf(out, 24, "%s %02d", body, (int)(97 - v % 97));
}

/* Irish PPS: 7 digits and a check letter. Upstream always appends "T". */
static size_t ie_pps(src_rng *r, bool quirks, char *out)
{
    digits(r, out, 7);
    int sum = 0;
    for (int i = 0; i < 7; i++)
        sum += (out[i] - '0') * (8 - i);
    out[7] = quirks ? 'T' : "WABCDEFGHIJKLMNOPQRSTUV"[sum % 23];
    out[8] = '\0';
    return 8;
}

static int mod11(const int *w, const char *s, int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++)
        sum += w[i] * (s[i] - '0');
    return sum % 11 == 0 ? 0 : 11 - sum % 11;
}

/* Norwegian fødselsnummer: DDMMYY, individual number (odd for men, range by
 * century), two mod-11 check digits; redrawn when a check digit would be 10
 * or the number ends in 0, as upstream does. */
static size_t no_fn(const src_user *u, src_rng *r, dob_parts b, char *out)
{
    static const int w1[] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
    static const int w2[] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
    for (int attempt = 0;; attempt++) {
        int no =
            (int)(b.y >= 2000 ? 999 - src_rng_range(r, 0, 499) : 499 - src_rng_range(r, 0, 499));
        if ((no & 1) != (u->male ? 1 : 0))
            no = no > 0 ? no - 1 : no + 1;
        sprintf(out, "%02d%02d%02d%03d", b.d, b.m, b.y % 100, no);
        int k1 = mod11(w1, out, 9);
        out[9] = (char)('0' + k1 % 10);
        int k2 = mod11(w2, out, 10);
        if ((k1 < 10 && k2 < 10 && k2 != 0) || attempt > 1000) {
            out[10] = (char)('0' + k2 % 10);
            out[11] = '\0';
            return 11;
        }
    }
}

/* US SSN without the never-issued areas (000, 666, 9xx), group 00, serial
 * 0000, or the two famous misused numbers. */
static size_t us_ssn(src_rng *r, char *out)
{
    for (;;) {
        size_t n = src_pattern(r, "ddd-dd-dddd", out);
        if (memcmp(out, "000", 3) == 0 || memcmp(out, "666", 3) == 0 || out[0] == '9' ||
            memcmp(out + 4, "00", 2) == 0 || memcmp(out + 7, "0000", 4) == 0 ||
            strcmp(out, "219-09-9999") == 0 || strcmp(out, "078-05-1120") == 0)
            continue;
        return n;
    }
}

size_t src_natid_compute(src_user *u, src_rng *r, bool quirks, int64_t dob_ms)
{
    dob_parts b = dob_of(dob_ms);
    char *out = u->id_value;
    switch (u->nat) {
    case SRC_NAT_CA:
        return ca_sin(r, out);
    case SRC_NAT_DE:
        return de_svnr(u, r, quirks, b, out);
    case SRC_NAT_DK:
        return dk_cpr(r, quirks, b, out);
    case SRC_NAT_FI:
        return fi_hetu(u, r, quirks, b, out);
    case SRC_NAT_FR:
        return fr_insee(u, r, quirks, b, out);
    case SRC_NAT_IE:
        return ie_pps(r, quirks, out);
    case SRC_NAT_NO:
        return no_fn(u, r, b, out);
    case SRC_NAT_US:
        return us_ssn(r, out);
    default:
        out[0] = '\0';
        return 0;
    }
}

size_t src_natid_fixed_phone(int nat, src_rng *r, char *out)
{
    static const char *const ua[] = {"066", "067", "068", "096", "097", "098", "099"};
    if (nat == SRC_NAT_CA)
        return src_pattern(r, "Ndd Ndd-dddd", out);
    return (size_t)sprintf(out, "(%s) ", ua[src_rng_below(r, 7)]) +
           src_pattern(r, "ddd-dddd", out + 6);
}
