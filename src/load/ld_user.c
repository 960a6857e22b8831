#include "ld_user.h"
#include "us_err.h"

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

static const char *type_name(ld_jtype t)
{
    static const char *const names[] = {"missing",  "null",       "false",
                                        "true",     "an integer", "a number",
                                        "a string", "an object",  "an array"};
    return names[t];
}

/* Requires field f to be an object (its members were collected). */
static int need_object(const ld_record *rec, int f, char *err, size_t errlen)
{
    ld_jtype t = rec->f[f].type;
    if (t == LD_J_OBJECT)
        return 0;
    if (t == LD_J_MISSING)
        return us_errf(err, errlen, "%s: missing", ld_field_path[f]);
    return us_errf(err, errlen, "%s: not an object (%s)", ld_field_path[f], type_name(t));
}

/* Puts string field f into column col. */
static int take_string(ld_row *row, int col, const ld_record *rec, int f, int flags, char *err,
                       size_t errlen)
{
    const ld_jval *v = &rec->f[f];
    const char *path = ld_field_path[f];
    row->val[col] = NULL;
    row->len[col] = 0;
    if (v->type == LD_J_MISSING) {
        if (flags & F_OPTIONAL)
            return 0;
        return us_errf(err, errlen, "%s: missing", path);
    }
    if (v->type == LD_J_NULL && (flags & F_NULLABLE))
        return 0;
    if (v->type != LD_J_STRING)
        return us_errf(err, errlen, "%s: not a string (%s)", path, type_name(v->type));
    if (v->n > LD_FIELD_MAX || memchr(v->s, '\0', v->n)) {
        return us_errf(err, errlen, "%s: %s", path,
                       v->n > LD_FIELD_MAX ? "too long" : "contains NUL");
    }
    if (v->n == 0 && (flags & F_NONEMPTY))
        return us_errf(err, errlen, "%s: empty", path);
    row->val[col] = v->s;
    row->len[col] = v->n;
    return 0;
}

/* Checks an already taken column with a format function. */
static int check_col(const ld_row *row, int col, int (*check)(const char *, size_t), int f,
                     const char *what, char *err, size_t errlen)
{
    if (row->val[col] && check(row->val[col], row->len[col]) < 0)
        return us_errf(err, errlen, "%s: not %s", ld_field_path[f], what);
    return 0;
}

/* Integer field f in [min, max] into column col, formatted in scratch slot. */
static int take_integer(ld_row *row, int col, int slot, const ld_record *rec, int f, long long min,
                        long long max, char *err, size_t errlen)
{
    const ld_jval *v = &rec->f[f];
    if (v->type != LD_J_INT)
        return us_errf(err, errlen, "%s: %s", ld_field_path[f],
                       v->type == LD_J_MISSING ? "missing" : "not an integer");
    if (v->i < min || v->i > max) {
        return us_errf(err, errlen, "%s: out of range", ld_field_path[f]);
    }
    int n = snprintf(row->num[slot], sizeof row->num[slot], "%lld", v->i);
    row->val[col] = row->num[slot];
    row->len[col] = (size_t)n;
    return 0;
}

static int flatten_name(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    if (need_object(rec, LD_F_NAME, err, errlen) ||
        take_string(row, LD_COL_TITLE, rec, LD_F_NAME_TITLE, F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_FIRST_NAME, rec, LD_F_NAME_FIRST, F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_LAST_NAME, rec, LD_F_NAME_LAST, F_NONEMPTY, err, errlen))
        return -1;
    return 0;
}

static int flatten_postcode(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    ld_jtype t = rec->f[LD_F_POSTCODE].type;
    /* A number or a string upstream, by nationality (randomuser-api.md §5.2). */
    if (t == LD_J_INT)
        return take_integer(row, LD_COL_POSTCODE, 1, rec, LD_F_POSTCODE, 0, 999999999999999LL, err,
                            errlen);
    if (t != LD_J_STRING && t != LD_J_MISSING)
        return us_errf(err, errlen, "location.postcode: not an integer or a string (%s)",
                       type_name(t));
    return take_string(row, LD_COL_POSTCODE, rec, LD_F_POSTCODE, F_NONEMPTY, err, errlen);
}

static int flatten_geo(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    if (need_object(rec, LD_F_COORDINATES, err, errlen) ||
        need_object(rec, LD_F_TIMEZONE, err, errlen) ||
        take_string(row, LD_COL_LATITUDE, rec, LD_F_LATITUDE, F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_LONGITUDE, rec, LD_F_LONGITUDE, F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_TZ_OFFSET, rec, LD_F_TZ_OFFSET, F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_TZ_DESCRIPTION, rec, LD_F_TZ_DESCRIPTION, 0, err, errlen))
        return -1;
    if (ld_check_coordinate(row->val[LD_COL_LATITUDE], row->len[LD_COL_LATITUDE], 90.0) < 0)
        return us_errf(err, errlen, "location.coordinates.latitude: not a number in [-90, 90]");
    if (ld_check_coordinate(row->val[LD_COL_LONGITUDE], row->len[LD_COL_LONGITUDE], 180.0) < 0) {
        return us_errf(err, errlen, "location.coordinates.longitude: not a number in [-180, 180]");
    }
    return check_col(row, LD_COL_TZ_OFFSET, ld_check_tz_offset, LD_F_TZ_OFFSET, "a UTC offset", err,
                     errlen);
}

static int flatten_location(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    if (need_object(rec, LD_F_LOCATION, err, errlen) ||
        need_object(rec, LD_F_STREET, err, errlen) ||
        take_integer(row, LD_COL_STREET_NUMBER, 0, rec, LD_F_STREET_NUMBER, 0, 2147483647, err,
                     errlen) ||
        take_string(row, LD_COL_STREET_NAME, rec, LD_F_STREET_NAME, 0, err, errlen) ||
        take_string(row, LD_COL_CITY, rec, LD_F_CITY, 0, err, errlen) ||
        take_string(row, LD_COL_STATE, rec, LD_F_STATE, 0, err, errlen) ||
        /* LEGO records have no country (checked against nat later). */
        take_string(row, LD_COL_COUNTRY, rec, LD_F_COUNTRY, F_OPTIONAL, err, errlen) ||
        flatten_postcode(rec, row, err, errlen))
        return -1;
    return flatten_geo(rec, row, err, errlen);
}

static int flatten_login(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    /* Only uuid and username are read: the credentials are never touched. */
    if (need_object(rec, LD_F_LOGIN, err, errlen) ||
        take_string(row, LD_COL_USER_ID, rec, LD_F_UUID, F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_USERNAME, rec, LD_F_USERNAME, F_NONEMPTY, err, errlen))
        return -1;
    return check_col(row, LD_COL_USER_ID, ld_check_uuid, LD_F_UUID, "a UUID", err, errlen);
}

static int flatten_date(const ld_record *rec, int parent, int f, int col, ld_row *row, char *err,
                        size_t errlen)
{
    if (need_object(rec, parent, err, errlen) ||
        take_string(row, col, rec, f, F_NONEMPTY, err, errlen))
        return -1;
    return check_col(row, col, ld_check_iso_time, f, "an ISO 8601 UTC time", err, errlen);
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t pn = strlen(p);
    return n > pn && memcmp(s, p, pn) == 0;
}

static int flatten_picture(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    if (need_object(rec, LD_F_PICTURE, err, errlen))
        return -1;
    for (int i = 0; i < 3; i++) {
        int col = LD_COL_PICTURE_LARGE + i, f = LD_F_PICTURE_LARGE + i;
        if (take_string(row, col, rec, f, F_NONEMPTY, err, errlen) < 0)
            return -1;
        if (!has_prefix(row->val[col], row->len[col], "https://") &&
            !has_prefix(row->val[col], row->len[col], "http://")) {
            return us_errf(err, errlen, "%s: not an http(s) URL", ld_field_path[f]);
        }
    }
    return 0;
}

static int flatten_contact(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    if (take_string(row, LD_COL_EMAIL, rec, LD_F_EMAIL, F_NONEMPTY, err, errlen) ||
        check_col(row, LD_COL_EMAIL, ld_check_email, LD_F_EMAIL, "an email address", err, errlen) ||
        take_string(row, LD_COL_PHONE, rec, LD_F_PHONE, F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_CELL, rec, LD_F_CELL, F_NONEMPTY, err, errlen) ||
        need_object(rec, LD_F_ID, err, errlen) ||
        /* id.name is "" and id.value null for IR, NZ, TR, UA. */
        take_string(row, LD_COL_ID_NAME, rec, LD_F_ID_NAME, 0, err, errlen) ||
        take_string(row, LD_COL_ID_VALUE, rec, LD_F_ID_VALUE, F_NULLABLE, err, errlen))
        return -1;
    return 0;
}

static int flatten_gender_nat(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    if (take_string(row, LD_COL_GENDER, rec, LD_F_GENDER, F_NONEMPTY, err, errlen) ||
        take_string(row, LD_COL_NAT, rec, LD_F_NAT, F_NONEMPTY, err, errlen) ||
        check_col(row, LD_COL_NAT, ld_check_nat, LD_F_NAT, "a nationality code", err, errlen))
        return -1;
    const char *g = row->val[LD_COL_GENDER];
    size_t gn = row->len[LD_COL_GENDER];
    if (!((gn == 4 && memcmp(g, "male", 4) == 0) || (gn == 6 && memcmp(g, "female", 6) == 0)))
        return us_errf(err, errlen, "gender: not male or female");
    return 0;
}

int ld_user_flatten(const ld_record *rec, ld_row *row, char *err, size_t errlen)
{
    memset(row->val, 0, sizeof row->val);
    memset(row->len, 0, sizeof row->len);
    if (rec->type != LD_J_OBJECT)
        return us_errf(err, errlen, "record: not an object (%s)", type_name(rec->type));
    if (rec->duplicate) {
        return us_errf(err, errlen, "%s: appears twice", ld_field_path[rec->duplicate - 1]);
    }
    if (flatten_gender_nat(rec, row, err, errlen) || flatten_name(rec, row, err, errlen) ||
        flatten_location(rec, row, err, errlen) || flatten_contact(rec, row, err, errlen) ||
        flatten_login(rec, row, err, errlen) ||
        flatten_date(rec, LD_F_DOB, LD_F_DOB_DATE, LD_COL_DOB, row, err, errlen) ||
        flatten_date(rec, LD_F_REGISTERED, LD_F_REGISTERED_DATE, LD_COL_REGISTERED_AT, row, err,
                     errlen) ||
        flatten_picture(rec, row, err, errlen))
        return -1;
    bool lego = row->len[LD_COL_NAT] == 4;
    if (!row->val[LD_COL_COUNTRY] && !lego)
        return us_errf(err, errlen, "location.country: missing");
    return 0;
}
