#include "ld_user.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ld_user_columns[LD_NCOLS] = {
    "user_id",
    "gender",
    "title",
    "first_name",
    "last_name",
    "street_number",
    "street_name",
    "city",
    "state",
    "country",
    "postcode",
    "latitude",
    "longitude",
    "tz_offset",
    "tz_description",
    "email",
    "username",
    "dob",
    "registered_at",
    "phone",
    "cell",
    "id_name",
    "id_value",
    "picture_large",
    "picture_medium",
    "picture_thumbnail",
    "nat",
};

/* How a string field may look. */
enum {
    F_REQUIRED = 0,
    F_NONEMPTY = 1 << 0, /* "" is invalid */
    F_NULLABLE = 1 << 1, /* JSON null becomes SQL NULL */
    F_OPTIONAL = 1 << 2, /* an absent member becomes SQL NULL */
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Reads exactly n digits at s into *out. */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int ld_check_uuid(const char *s, size_t n)
{
    if (n != 36)
        return -1;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return -1;
    }
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int ld_check_iso_time(const char *s, size_t n)
{
    int y, mo, d, h, mi, se;
    /* YYYY-MM-DDTHH:MM:SS is 19 bytes; then optional .f{1,6}; then Z. */
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return -1;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == start || i - start > 6)
            return -1;
    }
    return i + 1 == n && s[i] == 'Z' ? 0 : -1;
}

int ld_check_coordinate(const char *s, size_t n, double limit)
{
    char buf[32];
    size_t i = 0, int_digits = 0, frac_digits = 0;
    if (n == 0 || n >= sizeof buf)
        return -1;
    if (s[i] == '-' || s[i] == '+')
        i++;
    while (i < n && is_digit(s[i]) && int_digits < 4)
        i++, int_digits++;
    if (int_digits == 0)
        return -1;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i]) && frac_digits < 15)
            i++, frac_digits++;
        if (frac_digits == 0)
            return -1;
    }
    if (i != n)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    return v >= -limit && v <= limit ? 0 : -1;
}

int ld_check_tz_offset(const char *s, size_t n)
{
    size_t i = 0;
    int h, m;
    if (n > 0 && (s[0] == '+' || s[0] == '-'))
        i++;
    size_t hd = n >= i + 4 && s[i + 1] == ':' ? 1 : 2;
    if (n != i + hd + 3 || s[i + hd] != ':')
        return -1;
    if (!digits(s + i, (int)hd, &h) || !digits(s + i + hd + 1, 2, &m))
        return -1;
    return h <= 14 && m <= 59 ? 0 : -1;
}

int ld_check_email(const char *s, size_t n)
{
    size_t at = n;
    if (n < 3 || n > 254)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f)
            return -1;
        if (c == '@') {
            if (at != n)
                return -1;
            at = i;
        }
    }
    return at > 0 && at + 1 < n ? 0 : -1;
}

int ld_check_nat(const char *s, size_t n)
{
    if (n == 4 && memcmp(s, "LEGO", 4) == 0)
        return 0;
    return n == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' ? 0 : -1;
}

/* Member `key` of `obj` as an object; path names it in the reason. */
static const json_t *get_object(const json_t *obj, const char *key, const char *path, char *err,
                                size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        snprintf(err, errlen, "%s: missing", path);
    else if (!json_is_object(v))
        snprintf(err, errlen, "%s: not an object", path);
    else
        return v;
    return NULL;
}

/* Puts string member `key` of `obj` into column col. */
static int take_string(ld_row *row, int col, const json_t *obj, const char *key, const char *path,
                       int flags, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    row->val[col] = NULL;
    row->len[col] = 0;
    if (!v) {
        if (flags & F_OPTIONAL)
            return 0;
        snprintf(err, errlen, "%s: missing", path);
        return -1;
    }
    if (json_is_null(v) && (flags & F_NULLABLE))
        return 0;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s: not a string", path);
        return -1;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > LD_FIELD_MAX || memchr(s, '\0', n)) {
        snprintf(err, errlen, "%s: %s", path, n > LD_FIELD_MAX ? "too long" : "contains NUL");
        return -1;
    }
    if (n == 0 && (flags & F_NONEMPTY)) {
        snprintf(err, errlen, "%s: empty", path);
        return -1;
    }
    row->val[col] = s;
    row->len[col] = n;
    return 0;
}

/* Checks an already taken column with a format function. */
static int check_col(const ld_row *row, int col, int (*check)(const char *, size_t),
                     const char *path, const char *what, char *err, size_t errlen)
{
    if (row->val[col] && check(row->val[col], row->len[col]) < 0) {
        snprintf(err, errlen, "%s: not %s", path, what);
        return -1;
    }
    return 0;
}

/* JSON integer in [min, max] into column col, formatted in scratch slot. */
static int take_integer(ld_row *row, int col, int slot, const json_t *v, const char *path,
                        json_int_t min, json_int_t max, char *err, size_t errlen)
{
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "%s: not an integer", path);
        return -1;
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        snprintf(err, errlen, "%s: out of range", path);
        return -1;
    }
    int n = snprintf(row->num[slot], sizeof row->num[slot], "%" JSON_INTEGER_FORMAT, i);
    row->val[col] = row->num[slot];
    row->len[col] = (size_t)n;
    return 0;
}

static int flatten_name(const json_t *user, ld_row *row, char *err, size_t errlen)
{
    const json_t *name = get_object(user, "name", "name", err, errlen);
    if (!name)
        return -1;
    if (take_string(row, LD_COL_TITLE, name, "title", "name.title", F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_FIRST_NAME, name, "first", "name.first", F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_LAST_NAME, name, "last", "name.last", F_NONEMPTY, err, errlen))
        return -1;
    return 0;
}

static int flatten_postcode(const json_t *loc, ld_row *row, char *err, size_t errlen)
{
    const json_t *pc = json_object_get(loc, "postcode");
    if (!pc) {
        snprintf(err, errlen, "location.postcode: missing");
        return -1;
    }
    /* A number or a string upstream, by nationality (randomuser-api.md §5.2). */
    if (json_is_integer(pc))
        return take_integer(row, LD_COL_POSTCODE, 1, pc, "location.postcode", 0, (json_int_t)1e15,
                            err, errlen);
    if (!json_is_string(pc)) {
        snprintf(err, errlen, "location.postcode: not an integer or a string");
        return -1;
    }
    return take_string(row, LD_COL_POSTCODE, loc, "postcode", "location.postcode", F_NONEMPTY, err,
                       errlen);
}

static int flatten_geo(const json_t *loc, ld_row *row, char *err, size_t errlen)
{
    const json_t *co = get_object(loc, "coordinates", "location.coordinates", err, errlen);
    const json_t *tz = co ? get_object(loc, "timezone", "location.timezone", err, errlen) : NULL;
    if (!tz)
        return -1;
    if (take_string(row, LD_COL_LATITUDE, co, "latitude", "location.coordinates.latitude",
                    F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_LONGITUDE, co, "longitude", "location.coordinates.longitude",
                    F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_TZ_OFFSET, tz, "offset", "location.timezone.offset", F_NONEMPTY,
                    err, errlen) ||
        take_string(row, LD_COL_TZ_DESCRIPTION, tz, "description", "location.timezone.description",
                    0, err, errlen))
        return -1;
    if (ld_check_coordinate(row->val[LD_COL_LATITUDE], row->len[LD_COL_LATITUDE], 90.0) < 0) {
        snprintf(err, errlen, "location.coordinates.latitude: not a number in [-90, 90]");
        return -1;
    }
    if (ld_check_coordinate(row->val[LD_COL_LONGITUDE], row->len[LD_COL_LONGITUDE], 180.0) < 0) {
        snprintf(err, errlen, "location.coordinates.longitude: not a number in [-180, 180]");
        return -1;
    }
    return check_col(row, LD_COL_TZ_OFFSET, ld_check_tz_offset, "location.timezone.offset",
                     "a UTC offset", err, errlen);
}

static int flatten_location(const json_t *user, ld_row *row, char *err, size_t errlen)
{
    const json_t *loc = get_object(user, "location", "location", err, errlen);
    const json_t *st = loc ? get_object(loc, "street", "location.street", err, errlen) : NULL;
    if (!st)
        return -1;
    const json_t *num = json_object_get(st, "number");
    if (!num) {
        snprintf(err, errlen, "location.street.number: missing");
        return -1;
    }
    if (take_integer(row, LD_COL_STREET_NUMBER, 0, num, "location.street.number", 0, 2147483647,
                     err, errlen) ||
        take_string(row, LD_COL_STREET_NAME, st, "name", "location.street.name", 0, err, errlen) ||
        take_string(row, LD_COL_CITY, loc, "city", "location.city", 0, err, errlen) ||
        take_string(row, LD_COL_STATE, loc, "state", "location.state", 0, err, errlen) ||
        /* LEGO records have no country (checked against nat later). */
        take_string(row, LD_COL_COUNTRY, loc, "country", "location.country", F_OPTIONAL, err,
                    errlen))
        return -1;
    if (flatten_postcode(loc, row, err, errlen) < 0)
        return -1;
    return flatten_geo(loc, row, err, errlen);
}

static int flatten_login(const json_t *user, ld_row *row, char *err, size_t errlen)
{
    const json_t *login = get_object(user, "login", "login", err, errlen);
    if (!login)
        return -1;
    /* Only uuid and username are read: the credentials are never touched. */
    if (take_string(row, LD_COL_USER_ID, login, "uuid", "login.uuid", F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_USERNAME, login, "username", "login.username", F_NONEMPTY, err,
                    errlen))
        return -1;
    return check_col(row, LD_COL_USER_ID, ld_check_uuid, "login.uuid", "a UUID", err, errlen);
}

static int flatten_date(const json_t *user, const char *key, int col, ld_row *row, char *err,
                        size_t errlen)
{
    char path[32];
    const json_t *o = get_object(user, key, key, err, errlen);
    if (!o)
        return -1;
    snprintf(path, sizeof path, "%s.date", key);
    if (take_string(row, col, o, "date", path, F_NONEMPTY, err, errlen) < 0)
        return -1;
    return check_col(row, col, ld_check_iso_time, path, "an ISO 8601 UTC time", err, errlen);
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t pn = strlen(p);
    return n > pn && memcmp(s, p, pn) == 0;
}

static int flatten_picture(const json_t *user, ld_row *row, char *err, size_t errlen)
{
    static const char *const keys[] = {"large", "medium", "thumbnail"};
    const json_t *pic = get_object(user, "picture", "picture", err, errlen);
    if (!pic)
        return -1;
    for (int i = 0; i < 3; i++) {
        char path[32];
        int col = LD_COL_PICTURE_LARGE + i;
        snprintf(path, sizeof path, "picture.%s", keys[i]);
        if (take_string(row, col, pic, keys[i], path, F_NONEMPTY, err, errlen) < 0)
            return -1;
        if (!has_prefix(row->val[col], row->len[col], "https://") &&
            !has_prefix(row->val[col], row->len[col], "http://")) {
            snprintf(err, errlen, "%s: not an http(s) URL", path);
            return -1;
        }
    }
    return 0;
}

static int flatten_contact(const json_t *user, ld_row *row, char *err, size_t errlen)
{
    const json_t *id;
    if (take_string(row, LD_COL_EMAIL, user, "email", "email", F_NONEMPTY, err, errlen) ||
        check_col(row, LD_COL_EMAIL, ld_check_email, "email", "an email address", err, errlen) ||
        take_string(row, LD_COL_PHONE, user, "phone", "phone", F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_CELL, user, "cell", "cell", F_NONEMPTY, err, errlen))
        return -1;
    if (!(id = get_object(user, "id", "id", err, errlen)))
        return -1;
    /* id.name is "" and id.value null for IR, NZ, TR, UA. */
    if (take_string(row, LD_COL_ID_NAME, id, "name", "id.name", 0, err, errlen) ||
        take_string(row, LD_COL_ID_VALUE, id, "value", "id.value", F_NULLABLE, err, errlen))
        return -1;
    return 0;
}

static int flatten_gender_nat(const json_t *user, ld_row *row, char *err, size_t errlen)
{
    if (take_string(row, LD_COL_GENDER, user, "gender", "gender", F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_NAT, user, "nat", "nat", F_NONEMPTY, err, errlen) ||
        check_col(row, LD_COL_NAT, ld_check_nat, "nat", "a nationality code", err, errlen))
        return -1;
    const char *g = row->val[LD_COL_GENDER];
    size_t gn = row->len[LD_COL_GENDER];
    if (!((gn == 4 && memcmp(g, "male", 4) == 0) || (gn == 6 && memcmp(g, "female", 6) == 0))) {
        snprintf(err, errlen, "gender: not male or female");
        return -1;
    }
    return 0;
}

int ld_user_flatten(const json_t *user, ld_row *row, char *err, size_t errlen)
{
    memset(row->val, 0, sizeof row->val);
    memset(row->len, 0, sizeof row->len);
    if (!json_is_object(user)) {
        snprintf(err, errlen, "record: not an object");
        return -1;
    }
    if (flatten_gender_nat(user, row, err, errlen) || flatten_name(user, row, err, errlen) ||
        flatten_location(user, row, err, errlen) || flatten_contact(user, row, err, errlen) ||
        flatten_login(user, row, err, errlen) ||
        flatten_date(user, "dob", LD_COL_DOB, row, err, errlen) ||
        flatten_date(user, "registered", LD_COL_REGISTERED_AT, row, err, errlen) ||
        flatten_picture(user, row, err, errlen))
        return -1;
    bool lego = row->len[LD_COL_NAT] == 4;
    if (!row->val[LD_COL_COUNTRY] && !lego) {
        snprintf(err, errlen, "location.country: missing");
        return -1;
    }
    return 0;
}

static bool is_credential(const char *key)
{
    static const char *const names[] = {"password", "salt", "md5", "sha1", "sha256"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(key, names[i]) == 0)
            return true;
    return false;
}

void ld_user_scrub(json_t *value)
{
    const char *key;
    json_t *child;
    void *tmp;
    size_t i;
    if (json_is_object(value)) {
        json_object_foreach_safe(value, tmp, key, child)
        {
            if (is_credential(key))
                json_object_del(value, key);
            else
                ld_user_scrub(child);
        }
    } else if (json_is_array(value)) {
        json_array_foreach(value, i, child) ld_user_scrub(child);
    }
}
