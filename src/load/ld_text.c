#include "ld_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define REMOVED "\"[removed]\""

/* End of the JSON string token starting at s[i] == '"': index just past the
 * closing quote, or n when the text ends first. */
static size_t string_end(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the token body (between the quotes) into out when it is short
 * and ASCII, so "pass\u0077ord" is recognised too. */
static bool decode_key(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return false;
            c = s[++i];
            if (c == 'u') {
                int v = 0;
                if (i + 4 >= n)
                    return false;
                for (int j = 1; j <= 4; j++) {
                    int h = hexval(s[i + j]);
                    if (h < 0)
                        return false;
                    v = v * 16 + h;
                }
                if (v == 0 || v > 0x7f)
                    return false;
                c = (char)v;
                i += 4;
            }
        }
        if (k + 1 >= cap)
            return false;
        out[k++] = c;
    }
    out[k] = '\0';
    return true;
}

static bool is_credential_key(const char *s, size_t n)
{
    static const char *const names[] = {"password", "salt", "md5", "sha1", "sha256"};
    char key[16];
    if (n > 64 || !decode_key(s, n, key, sizeof key))
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(key, names[i]) == 0)
            return true;
    return false;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* End of the value starting at s[i]: a string token, or a bare scalar that
 * runs to the next delimiter. */
static size_t value_end(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '"')
        return string_end(s, n, i);
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != '\n')
        i++;
    return i;
}

int ld_text_scrub(us_buf *out, const char *s, size_t n)
{
    size_t i = 0, copied = 0;
    while (i < n) {
        const char *q = memchr(s + i, '"', n - i);
        if (!q)
            break;
        size_t start = (size_t)(q - s), end = string_end(s, n, start);
        i = end;
        if (end >= n || !is_credential_key(s + start + 1, end - start - 2))
            continue;
        size_t colon = skip_space(s, n, end);
        if (colon >= n || s[colon] != ':')
            continue;
        size_t v = skip_space(s, n, colon + 1);
        size_t vend = value_end(s, n, v);
        us_buf_put(out, s + copied, v - copied);
        us_buf_put(out, REMOVED, sizeof REMOVED - 1);
        if (out->oom)
            return -1;
        copied = i = vend;
    }
    us_buf_put(out, s + copied, n - copied);
    return out->oom ? -1 : 0;
}

size_t ld_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0x01 && c <= 0x7f)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else
        return 0; /* NUL, continuation byte, 0xc0/0xc1, 0xf5.. */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return len;
}

/* Appends valid UTF-8 from (s, n), escaping the rest, up to max bytes. */
static int append_utf8(us_buf *out, const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, written = 0;
    while (i < n) {
        size_t k = ld_utf8_seq(u + i, n - i);
        size_t w = k ? k : 4;
        if (written + w > max)
            break;
        if (k) {
            us_buf_put(out, s + i, k);
        } else {
            char esc[8];
            snprintf(esc, sizeof esc, "\\x%02X", u[i]);
            us_buf_put(out, esc, 4);
            k = 1;
        }
        if (out->oom)
            return -1;
        written += w;
        i += k;
    }
    if (i < n) {
        char note[64];
        snprintf(note, sizeof note, "...[%zu more bytes not stored]", n - i);
        us_buf_puts(out, note);
    }
    return out->oom ? -1 : 0;
}

int ld_text_safe(us_buf *out, const char *s, size_t n, size_t max)
{
    us_buf tmp = {0};
    int rc = ld_text_scrub(&tmp, s, n);
    if (rc == 0)
        rc = append_utf8(out, tmp.data ? tmp.data : "", tmp.len, max);
    us_buf_free(&tmp);
    return rc;
}
