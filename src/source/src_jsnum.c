#include "src_jsnum.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JS WhiteSpace and LineTerminator (ECMA-262 12.2, 12.3): TAB VT FF SP NBSP
 * ZWNBSP, Zs (U+1680, U+2000-200A, U+202F, U+205F, U+3000), LF CR LS PS. */
size_t src_js_space_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0)
        return 0;
    if (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))
        return 1;
    if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0)
        return 2;
    if (n < 3)
        return 0;
    unsigned cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    if ((p[0] & 0xF0) != 0xE0 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
        return 0;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
        cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF)
        return 3;
    return 0;
}

static void trim(const char **s, size_t *n)
{
    size_t k;
    while (*n && (k = src_js_space_len(*s, *n)) > 0) {
        *s += k;
        *n -= k;
    }
    /* Trailing: scan forward for the last non-space position. */
    size_t end = 0, i = 0;
    while (i < *n) {
        k = src_js_space_len(*s + i, *n - i);
        if (k == 0) {
            i++;
            end = i;
        } else {
            i += k;
        }
    }
    *n = end;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/* 0x / 0o / 0b literals: every remaining character must be a digit. */
static double radix_literal(const char *s, size_t n, int radix)
{
    double v = 0;
    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        int d = digit_value(s[i]);
        if (d >= radix)
            return NAN;
        v = v * radix + d;
    }
    return v;
}

/* StrDecimalLiteral: [+-] (Infinity | digits [. digits] | . digits) [e [+-] digits] */
static bool decimal_literal_ok(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (n - i == 8 && memcmp(s + i, "Infinity", 8) == 0)
        return true;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    return i == n;
}

double src_js_number(const char *s, size_t n)
{
    trim(&s, &n);
    if (n == 0)
        return 0;
    if (n > 2 && s[0] == '0') {
        char x = s[1];
        if (x == 'x' || x == 'X')
            return radix_literal(s + 2, n - 2, 16);
        if (x == 'o' || x == 'O')
            return radix_literal(s + 2, n - 2, 8);
        if (x == 'b' || x == 'B')
            return radix_literal(s + 2, n - 2, 2);
    }
    if (!decimal_literal_ok(s, n))
        return NAN;
    const char *inf = memchr(s, 'I', n);
    if (inf)
        return s[0] == '-' ? -INFINITY : INFINITY;
    char *copy = malloc(n + 1);
    if (!copy)
        return NAN;
    memcpy(copy, s, n);
    copy[n] = '\0';
    double v = strtod(copy, NULL);
    free(copy);
    return v;
}

double src_js_parse_hex(const char *s, size_t n)
{
    size_t k;
    int sign = 1;
    while (n && (k = src_js_space_len(s, n)) > 0)
        s += k, n -= k;
    if (n && (s[0] == '+' || s[0] == '-')) {
        sign = s[0] == '-' ? -1 : 1;
        s++, n--;
    }
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2, n -= 2;
    double v = 0;
    size_t i = 0;
    for (; i < n && digit_value(s[i]) < 16; i++)
        v = v * 16 + digit_value(s[i]);
    return i == 0 ? NAN : sign * v;
}

/* Shortest decimal digits that read back as d: "%.*e" with growing precision. */
static int shortest_digits(double d, char *digits, int *exp10)
{
    char tmp[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    int nd = 0;
    char *e = strchr(tmp, 'e');
    for (char *p = tmp; p < e; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    *exp10 = atoi(e + 1);
    return nd;
}

/* Number::toString (ECMA-262 6.1.6.1.20) for finite, nonzero, positive d. */
static size_t positive_string(double d, char *out)
{
    char dg[20];
    int e, k = shortest_digits(d, dg, &e), n = e + 1, len = 0;
    if (k <= n && n <= 21) {
        memcpy(out, dg, k);
        len = k;
        while (len < n)
            out[len++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out, dg, n);
        out[n] = '.';
        memcpy(out + n + 1, dg + n, k - n);
        len = k + 1;
    } else if (-6 < n && n <= 0) {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = 0; i < -n; i++)
            out[len++] = '0';
        memcpy(out + len, dg, k);
        len += k;
    } else {
        out[len++] = dg[0];
        if (k > 1) {
            out[len++] = '.';
            memcpy(out + len, dg + 1, k - 1);
            len += k - 1;
        }
        len += sprintf(out + len, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    out[len] = '\0';
    return (size_t)len;
}

size_t src_js_number_string(double d, char *out)
{
    if (isnan(d))
        return (size_t)sprintf(out, "NaN");
    if (d == 0)
        return (size_t)sprintf(out, "0");
    if (isinf(d))
        return (size_t)sprintf(out, "%sInfinity", d < 0 ? "-" : "");
    if (d < 0) {
        out[0] = '-';
        return 1 + positive_string(-d, out + 1);
    }
    return positive_string(d, out);
}

size_t src_js_utf16_len(const char *s, size_t n)
{
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) == 0x80)
            continue; /* continuation byte */
        units += c >= 0xF0 ? 2 : 1;
    }
    return units;
}

size_t src_js_utf16_offset(const char *s, size_t n, size_t units)
{
    size_t i = 0, u = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t w = c >= 0xF0 ? 2 : 1;
        size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (u + w > units)
            break;
        u += w;
        i += len;
        if (i > n)
            i = n;
    }
    return i;
}
