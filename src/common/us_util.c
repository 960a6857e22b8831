#include "us_util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int us_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int us_parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    double v;
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(v) || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int us_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    if (!s)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

char *us_str_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

void us_redact_quoted(const char *msg, char *out, size_t outlen)
{
    size_t k = 0;
    bool quoted = false;
    if (!outlen)
        return;
    for (const char *c = msg ? msg : ""; *c && k + 4 < outlen; c++) {
        if (*c == '"') {
            if (!quoted)
                out[k++] = '"', out[k++] = '*', out[k++] = '*', out[k++] = '*';
            else
                out[k++] = '"';
            quoted = !quoted;
        } else if (!quoted) {
            out[k++] = *c;
        }
    }
    if (quoted && k + 1 < outlen)
        out[k++] = '"'; /* an unterminated quote (cut message) still hides its rest */
    while (k && (out[k - 1] == '\n' || out[k - 1] == ' '))
        k--;
    out[k] = '\0';
}

void us_db_error_format(char *out, size_t outlen, const char *what, const char *sqlstate,
                        const char *primary, const char *constraint, const char *column,
                        const char *schema, const char *table)
{
    char msg[512], where[512] = "";
    size_t n = 0;
    us_redact_quoted(primary && *primary ? primary : "(no message)", msg, sizeof msg);
    if (constraint && *constraint)
        n += (size_t)snprintf(where + n, sizeof where - n, "constraint %s", constraint);
    if (column && *column && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, "%scolumn %s", n ? ", " : "", column);
    if (table && *table && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, "%stable %s%s%s", n ? ", " : "",
                              schema && *schema ? schema : "", schema && *schema ? "." : "", table);
    snprintf(out, outlen, "%s: SQLSTATE %s: %s%s%s%s", what,
             sqlstate && *sqlstate ? sqlstate : "?????", msg, where[0] ? " (" : "", where,
             where[0] ? ")" : "");
}
