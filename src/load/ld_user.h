/* ld_user: validation and flattening of one randomuser 1.4 user record.
 *
 * A record is a JSON object (docs/data-contracts.md §1, docs/randomuser-api.md
 * "The JSON answer"), scanned by ld_json into an ld_record.
 * ld_user_flatten checks every field the pipeline keeps (presence, JSON type,
 * format) and fills an ld_row whose values point into the record (valid while
 * it lives) or into the row's own scratch space. Credentials (login.password,
 * salt, md5, sha1, sha256) are never read. A record that fails gets a reason such as
 * "login.uuid: not a UUID" and goes to staging.rejects.
 *
 * Every value put into a row is guaranteed acceptable to PostgreSQL for its
 * column type, so one bad record can never fail a whole COPY batch. */
#ifndef LD_USER_H
#define LD_USER_H

#include "ld_json.h"
#include <stddef.h>

/* The typed columns of staging.users filled from the record, in COPY order
 * (stack/sql/001_staging.sql); lineage columns come from the page. */
enum {
    LD_COL_USER_ID = 0,
    LD_COL_GENDER,
    LD_COL_TITLE,
    LD_COL_FIRST_NAME,
    LD_COL_LAST_NAME,
    LD_COL_STREET_NUMBER,
    LD_COL_STREET_NAME,
    LD_COL_CITY,
    LD_COL_STATE,
    LD_COL_COUNTRY,
    LD_COL_POSTCODE,
    LD_COL_LATITUDE,
    LD_COL_LONGITUDE,
    LD_COL_TZ_OFFSET,
    LD_COL_TZ_DESCRIPTION,
    LD_COL_EMAIL,
    LD_COL_USERNAME,
    LD_COL_DOB,
    LD_COL_REGISTERED_AT,
    LD_COL_PHONE,
    LD_COL_CELL,
    LD_COL_ID_NAME,
    LD_COL_ID_VALUE,
    LD_COL_PICTURE_LARGE,
    LD_COL_PICTURE_MEDIUM,
    LD_COL_PICTURE_THUMBNAIL,
    LD_COL_NAT,
    LD_NCOLS
};

/* Column names in the same order, for COPY column lists. */
extern const char *const ld_user_columns[LD_NCOLS];

/* Longest text accepted in any one field: randomuser values are short; a
 * field longer than this is a malformed record, not data. */
#define LD_FIELD_MAX 2048

typedef struct ld_row {
    const char *val[LD_NCOLS]; /* NULL = SQL NULL */
    size_t len[LD_NCOLS];
    char num[2][24]; /* formatted integers (street number, numeric postcode) */
} ld_row;

/* Validates and flattens one record. Returns 0, or -1 with a reason in err
 * (never containing field values, so it can be logged). */
int ld_user_flatten(const ld_record *rec, ld_row *row, char *err, size_t errlen);

/* Format checks, exposed for the unit tests. Each takes (ptr, len). */
int ld_check_uuid(const char *s, size_t n);
int ld_check_iso_time(const char *s, size_t n); /* YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z */
int ld_check_coordinate(const char *s, size_t n, double limit);
int ld_check_tz_offset(const char *s, size_t n); /* [+-]H:MM or [+-]HH:MM, "0:00" */
int ld_check_email(const char *s, size_t n);
int ld_check_nat(const char *s, size_t n);

#endif
