/* src_user: one generated user, in the randomuser.me 1.4 shape.
 *
 * src_user_generate fills every field from the record's own random stream
 * (inc/exc only decide what the writers print). src_user_value hands the
 * writers one field at a time, typed as upstream types it. */
#ifndef SRC_USER_H
#define SRC_USER_H

#include "src_data.h"
#include "src_rng.h"

#include <stdbool.h>
#include <stdint.h>

/* Top-level fields in upstream's `originalFields` order (inc/exc names). */
enum {
    SRC_INC_GENDER = 1 << 0,
    SRC_INC_NAME = 1 << 1,
    SRC_INC_LOCATION = 1 << 2,
    SRC_INC_EMAIL = 1 << 3,
    SRC_INC_LOGIN = 1 << 4,
    SRC_INC_REGISTERED = 1 << 5,
    SRC_INC_DOB = 1 << 6,
    SRC_INC_PHONE = 1 << 7,
    SRC_INC_CELL = 1 << 8,
    SRC_INC_ID = 1 << 9,
    SRC_INC_PICTURE = 1 << 10,
    SRC_INC_NAT = 1 << 11,
    SRC_INC_ALL = (1 << 12) - 1,
};

/* Leaf fields, in output order. */
typedef enum {
    SRC_F_GENDER,
    SRC_F_TITLE,
    SRC_F_FIRST,
    SRC_F_LAST,
    SRC_F_STREET_NO,
    SRC_F_STREET,
    SRC_F_CITY,
    SRC_F_STATE,
    SRC_F_COUNTRY,
    SRC_F_POSTCODE,
    SRC_F_LAT,
    SRC_F_LON,
    SRC_F_TZ_OFFSET,
    SRC_F_TZ_DESC,
    SRC_F_EMAIL,
    SRC_F_UUID,
    SRC_F_USERNAME,
    SRC_F_PASSWORD,
    SRC_F_SALT,
    SRC_F_MD5,
    SRC_F_SHA1,
    SRC_F_SHA256,
    SRC_F_DOB_DATE,
    SRC_F_DOB_AGE,
    SRC_F_REG_DATE,
    SRC_F_REG_AGE,
    SRC_F_PHONE,
    SRC_F_CELL,
    SRC_F_ID_NAME,
    SRC_F_ID_VALUE,
    SRC_F_PIC_LARGE,
    SRC_F_PIC_MEDIUM,
    SRC_F_PIC_THUMB,
    SRC_F_NAT,
} src_field;

typedef enum { SRC_V_STR, SRC_V_INT, SRC_V_NULL } src_vtype;

typedef struct src_value {
    src_vtype t;
    bool plain; /* a string with nothing any format must escape for JSON */
    const char *s;
    size_t n;
    int64_t i;
} src_value;

typedef struct src_user {
    int nat; /* SRC_NAT_* (LEGO included) */
    bool male;
    const char *title;
    const src_str *first, *last, *street, *city, *state, *tz;
    int street_no;
    bool postcode_is_str;
    int postcode;
    char postcode_s[12];
    char lat[12], lon[12];
    char email[200];
    char uuid[37];
    char username[48];
    char password[65];
    char salt[9];
    char md5[33], sha1[41], sha256[65];
    char dob[25], reg[25];
    int dob_age, reg_age;
    char phone[24], cell[24];
    const char *id_name;
    char id_value[24];
    bool id_null;
    char pic[3][64];
    uint8_t n_title, n_postcode, n_lat, n_lon, n_email, n_username, n_password, n_phone, n_cell,
        n_id;
    uint8_t n_pic[3];
} src_user;

/* What a request asks of the generator. */
typedef struct src_gen_opts {
    int gender;                 /* -1 either, 0 male, 1 female */
    int fixed_nat;              /* -1: drawn per record; else SRC_NAT_* */
    const uint32_t *nat_weight; /* per real nationality, NULL = all equal */
    uint32_t nat_weight_total;
    bool pw_custom;      /* password=CHARSETS,LEN given with a valid charset */
    char pw_charset[96]; /* concatenated charsets */
    int pw_charset_len;
    double pw_min, pw_max; /* upstream's JS doubles (already sanitised) */
    bool quirks;           /* reproduce upstream's output bugs */
    int64_t now_ms;        /* reference time for the ages */
} src_gen_opts;

void src_user_generate(src_user *u, const src_data *d, const src_gen_opts *o, src_rng *r);

/* Field value as upstream types it; false if the record has no such field
 * (country for LEGO). */
bool src_user_value(const src_user *u, src_field f, src_value *v);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" of ms since the epoch (Date#toISOString);
 * out needs 25 bytes. */
void src_iso_date(int64_t ms, char *out);
/* Full years from `from` to `to` (dayjs diff 'years', UTC). */
int src_age_years(int64_t from_ms, int64_t to_ms);
/* Civil UTC date of ms: year, month 1-12, day 1-31. */
void src_civil(int64_t ms, int *y, int *m, int *d);

#endif
