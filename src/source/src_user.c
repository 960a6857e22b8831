#include "src_user.h"
#include "us_buf.h"
#include "src_nat.h"

#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Upstream's fixed reference instant (constantTime) for the date ranges. */
#define CONSTANT_TIME_MS 1653344189000LL
#define DOB_MIN_MS (-800000000000LL)
#define DOB_MAX_MS (CONSTANT_TIME_MS - 86400000LL * 365 * 21)
#define REG_MIN_MS 1016688461000LL

static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890";
static const char HEX[] = "0123456789abcdef";
static const char PORTRAITS[] = "https://randomuser.me/api/portraits/";

/* Days since 1970-01-01 -> civil date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void src_civil(int64_t ms, int *y, int *m, int *d)
{
    civil_from_days(floor_div(ms, 86400000), y, m, d);
}

static void put_digits(char *out, int v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

void src_iso_date(int64_t ms, char *out)
{
    int y, m, d;
    int64_t day = floor_div(ms, 86400000), rem = ms - day * 86400000;
    civil_from_days(day, &y, &m, &d);
    if (y < 0 || y > 9999) /* outside toISOString's 4-digit years; never drawn */
        y = 0;
    memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    put_digits(out, y, 4);
    put_digits(out + 5, m, 2);
    put_digits(out + 8, d, 2);
    put_digits(out + 11, (int)(rem / 3600000), 2);
    put_digits(out + 14, (int)(rem / 60000 % 60), 2);
    put_digits(out + 17, (int)(rem / 1000 % 60), 2);
    put_digits(out + 20, (int)(rem % 1000), 3);
}

int src_age_years(int64_t from_ms, int64_t to_ms)
{
    int y1, m1, d1, y2, m2, d2;
    src_civil(from_ms, &y1, &m1, &d1);
    src_civil(to_ms, &y2, &m2, &d2);
    int64_t t1 = from_ms - floor_div(from_ms, 86400000) * 86400000;
    int64_t t2 = to_ms - floor_div(to_ms, 86400000) * 86400000;
    int years = y2 - y1;
    if (m2 < m1 || (m2 == m1 && (d2 < d1 || (d2 == d1 && t2 < t1))))
        years--;
    return years;
}

static size_t hex_digest(char *out, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[d[i] >> 4];
        out[2 * i + 1] = HEX[d[i] & 15];
    }
    out[2 * n] = '\0';
    return 2 * n;
}

/* md5/sha1/sha256 of password + salt, lowercase hex. */
static void hashes(src_user *u)
{
    uint8_t d[SHA256_DIGEST_SIZE];
    const uint8_t *p = (const uint8_t *)u->password, *s = (const uint8_t *)u->salt;
    struct md5_ctx m;
    struct sha1_ctx s1;
    struct sha256_ctx s2;
    md5_init(&m);
    md5_update(&m, u->n_password, p);
    md5_update(&m, 8, s);
    md5_digest(&m, MD5_DIGEST_SIZE, d);
    hex_digest(u->md5, d, MD5_DIGEST_SIZE);
    sha1_init(&s1);
    sha1_update(&s1, u->n_password, p);
    sha1_update(&s1, 8, s);
    sha1_digest(&s1, SHA1_DIGEST_SIZE, d);
    hex_digest(u->sha1, d, SHA1_DIGEST_SIZE);
    sha256_init(&s2);
    sha256_update(&s2, u->n_password, p);
    sha256_update(&s2, 8, s);
    sha256_digest(&s2, SHA256_DIGEST_SIZE, d);
    hex_digest(u->sha256, d, SHA256_DIGEST_SIZE);
}

static void password(src_user *u, const src_data *d, const src_gen_opts *o, src_rng *r)
{
    if (!o->pw_custom) {
        const src_list *l = &d->common[SRC_COMMON_PASSWORD];
        const src_str *p = &l->v[src_rng_below(r, l->n)];
        size_t n = p->n < 64 ? p->n : 64;
        memcpy(u->password, p->s, n);
        u->password[n] = '\0';
        u->n_password = (uint8_t)n;
        return;
    }
    /* Upstream: len = min + floor(rand * (max - min + 1)) with JS doubles,
     * then one character per i < len. */
    double len = o->pw_min + floor(src_rng_unit(r) * (o->pw_max - o->pw_min + 1));
    int n = 0;
    while (n < 64 && n < len)
        u->password[n++] = o->pw_charset[src_rng_below(r, (uint32_t)o->pw_charset_len)];
    u->password[n] = '\0';
    u->n_password = (uint8_t)n;
}

/* Latitude/longitude as upstream: k/10000 - bound with 4 decimals. */
static uint8_t coordinate(src_rng *r, int bound, char *out)
{
    int64_t k = src_rng_range(r, 0, (int64_t)bound * 20000) - (int64_t)bound * 10000;
    int64_t a = k < 0 ? -k : k;
    size_t n = 0;
    if (k < 0)
        out[n++] = '-';
    n += us_fmt_i64(out + n, a / 10000);
    out[n++] = '.';
    put_digits(out + n, (int)(a % 10000), 4);
    n += 4;
    out[n] = '\0';
    return (uint8_t)n;
}

/* Appends n bytes at *p (the caller sized the buffer). */
static char *append(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static void uuid4(src_rng *r, char *out)
{
    uint64_t a = src_rng_next(r), b = src_rng_next(r);
    char *p = out;
    for (int i = 0; i < 32; i++) {
        unsigned nib = (unsigned)((i < 16 ? a >> (4 * i) : b >> (4 * (i - 16))) & 15);
        if (i == 12)
            nib = 4;
        else if (i == 16)
            nib = 8 | (nib & 3);
        if (i == 8 || i == 12 || i == 16 || i == 20)
            *p++ = '-';
        *p++ = HEX[nib];
    }
    *p = '\0';
}

static const src_str *pick(const src_list *l, src_rng *r)
{
    return &l->v[src_rng_below(r, l->n)];
}

static int draw_nat(const src_gen_opts *o, src_rng *r)
{
    if (o->fixed_nat >= 0)
        return o->fixed_nat;
    if (!o->nat_weight)
        return (int)src_rng_below(r, SRC_NAT_REAL);
    uint32_t x = src_rng_below(r, o->nat_weight_total);
    for (int i = 0; i < SRC_NAT_REAL; i++) {
        if (x < o->nat_weight[i])
            return i;
        x -= o->nat_weight[i];
    }
    return SRC_NAT_US; /* not reached: weights sum to the total */
}

static void names(src_user *u, const src_list *lists, src_rng *r)
{
    static const char *const female_titles[] = {"Miss", "Mrs", "Ms"};
    u->first = pick(&lists[u->male ? SRC_LIST_MALE : SRC_LIST_FEMALE], r);
    u->last = pick(&lists[SRC_LIST_LAST], r);
    u->title = u->male ? "Mr" : female_titles[src_rng_below(r, 3)];
    u->n_title = (uint8_t)strlen(u->title);
    /* E-mail parts are at most 64 bytes each (checked when the data loads). */
    char *p = append(u->email, u->first->alt, u->first->alt_n);
    *p++ = '.';
    p = append(p, u->last->alt, u->last->alt_n);
    p = append(p, "@example.com", 13);
    u->n_email = (uint8_t)(p - 1 - u->email);
}

static void location(src_user *u, const src_data *d, const src_list *lists, src_rng *r)
{
    u->street_no = (int)src_rng_range(r, 1, 9999);
    u->street = pick(&lists[SRC_LIST_STREET], r);
    u->city = pick(&lists[SRC_LIST_CITY], r);
    u->state = pick(&lists[SRC_LIST_STATE], r);
    u->tz = pick(&d->common[SRC_COMMON_TZ], r);
    u->n_lat = coordinate(r, 90, u->lat);
    u->n_lon = coordinate(r, 180, u->lon);
}

static void login(src_user *u, const src_data *d, const src_gen_opts *o, src_rng *r)
{
    src_rng_chars(r, u->salt, 8, ALNUM, sizeof ALNUM - 1);
    u->salt[8] = '\0';
    password(u, d, o, r);
    hashes(u);
    uuid4(r, u->uuid);
    const src_str *a = pick(&d->common[SRC_COMMON_ADJECTIVE], r);
    const src_str *b = pick(&d->common[SRC_COMMON_ANIMAL], r);
    /* Word lists hold short words (at most 20 bytes, checked at load). */
    char *p = append(u->username, a->s, a->n);
    p = append(p, b->s, b->n);
    put_digits(p, (int)src_rng_range(r, 100, 999), 3);
    p[3] = '\0';
    u->n_username = (uint8_t)(p + 3 - u->username);
}

static void picture(src_user *u, src_rng *r)
{
    static const char *const sizes[3] = {"", "med/", "thumb/"};
    static const size_t size_n[3] = {0, 4, 6};
    const char *kind = u->nat == SRC_NAT_LEGO ? "lego/" : u->male ? "men/" : "women/";
    size_t kind_n = strlen(kind);
    int n = (int)(u->nat == SRC_NAT_LEGO ? src_rng_range(r, 0, 9)
                                         : src_rng_range(r, 0, u->male ? 99 : 96));
    char num[8];
    size_t num_n = us_fmt_i64(num, n);
    for (int i = 0; i < 3; i++) {
        char *p = append(u->pic[i], PORTRAITS, sizeof PORTRAITS - 1);
        p = append(p, sizes[i], size_n[i]);
        p = append(p, kind, kind_n);
        p = append(p, num, num_n);
        p = append(p, ".jpg", 5); /* with its NUL */
        u->n_pic[i] = (uint8_t)(p - 1 - u->pic[i]);
    }
}

void src_user_generate(src_user *u, const src_data *d, const src_gen_opts *o, src_rng *r)
{
    u->nat = draw_nat(o, r);
    u->male = o->gender >= 0 ? o->gender == 0 : src_rng_below(r, 2) == 0;
    /* LEGO people live in the US data, as upstream's LEGO lists are US copies. */
    const src_list *lists = d->nat[u->nat == SRC_NAT_LEGO ? SRC_NAT_US : u->nat];
    names(u, lists, r);
    location(u, d, lists, r);
    login(u, d, o, r);
    int64_t dob = src_rng_range(r, DOB_MIN_MS, DOB_MAX_MS);
    int64_t reg = src_rng_range(r, REG_MIN_MS, CONSTANT_TIME_MS);
    src_iso_date(dob, u->dob);
    src_iso_date(reg, u->reg);
    u->dob_age = src_age_years(dob, o->now_ms);
    u->reg_age = src_age_years(reg, o->now_ms);
    picture(u, r);
    src_nat_inject(u, r, o->quirks, dob);
}

/* Every string but the password comes from the data lists (checked when
 * they load) or from fixed alphabets: nothing to escape in JSON. */
#define STR(p, len) (v->t = SRC_V_STR, v->plain = true, v->s = (p), v->n = (len), true)
#define INT(x) (v->t = SRC_V_INT, v->i = (x), true)

bool src_user_value(const src_user *u, src_field f, src_value *v)
{
    switch (f) {
    case SRC_F_GENDER:
        return u->male ? STR("male", 4) : STR("female", 6);
    case SRC_F_TITLE:
        return STR(u->title, u->n_title);
    case SRC_F_FIRST:
        return STR(u->first->s, u->first->n);
    case SRC_F_LAST:
        return STR(u->last->s, u->last->n);
    case SRC_F_STREET_NO:
        return INT(u->street_no);
    case SRC_F_STREET:
        return STR(u->street->s, u->street->n);
    case SRC_F_CITY:
        return STR(u->city->s, u->city->n);
    case SRC_F_STATE:
        return STR(u->state->s, u->state->n);
    case SRC_F_COUNTRY: {
        const char *c = src_nat_country(u->nat);
        return c ? STR(c, strlen(c)) : false;
    }
    case SRC_F_POSTCODE:
        return u->postcode_is_str ? STR(u->postcode_s, u->n_postcode) : INT(u->postcode);
    case SRC_F_LAT:
        return STR(u->lat, u->n_lat);
    case SRC_F_LON:
        return STR(u->lon, u->n_lon);
    case SRC_F_TZ_OFFSET:
        return STR(u->tz->s, u->tz->n);
    case SRC_F_TZ_DESC:
        return STR(u->tz->alt, u->tz->alt_n);
    case SRC_F_EMAIL:
        return STR(u->email, u->n_email);
    case SRC_F_UUID:
        return STR(u->uuid, 36);
    case SRC_F_USERNAME:
        return STR(u->username, u->n_username);
    case SRC_F_PASSWORD:
        return STR(u->password, u->n_password) && !(v->plain = false);
    case SRC_F_SALT:
        return STR(u->salt, 8);
    case SRC_F_MD5:
        return STR(u->md5, 32);
    case SRC_F_SHA1:
        return STR(u->sha1, 40);
    case SRC_F_SHA256:
        return STR(u->sha256, 64);
    case SRC_F_DOB_DATE:
        return STR(u->dob, 24);
    case SRC_F_DOB_AGE:
        return INT(u->dob_age);
    case SRC_F_REG_DATE:
        return STR(u->reg, 24);
    case SRC_F_REG_AGE:
        return INT(u->reg_age);
    case SRC_F_PHONE:
        return STR(u->phone, u->n_phone);
    case SRC_F_CELL:
        return STR(u->cell, u->n_cell);
    case SRC_F_ID_NAME:
        return STR(u->id_name, strlen(u->id_name));
    case SRC_F_ID_VALUE:
        return u->id_null ? (v->t = SRC_V_NULL, true) : STR(u->id_value, u->n_id);
    case SRC_F_PIC_LARGE:
        return STR(u->pic[0], u->n_pic[0]);
    case SRC_F_PIC_MEDIUM:
        return STR(u->pic[1], u->n_pic[1]);
    case SRC_F_PIC_THUMB:
        return STR(u->pic[2], u->n_pic[2]);
    case SRC_F_NAT: {
        const char *c = src_nat_code(u->nat);
        return STR(c, strlen(c));
    }
    }
    return false;
}
