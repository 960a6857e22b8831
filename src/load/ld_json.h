/* ld_json: a validating single-pass JSON scanner for randomuser pages.
 *
 * Why not a tree parser: building a jansson tree for a 5,000-user page (5.4 MB)
 * costs ~125 ms, which alone caps a core at ~40,000 users/s. This scanner
 * walks the bytes once with an explicit (ptr, end) cursor, validates the whole
 * document (RFC 8259 grammar, UTF-8, escapes, surrogate pairs, no \u0000,
 * nesting depth as jansson: 2048) and, for each element of "results",
 * collects the members the loader keeps into an ld_record: the value's type
 * and its text (strings decoded; without escapes they point into the body).
 * Everything else is validated and skipped. The fuzz target checks that it
 * accepts exactly what jansson accepts and extracts the same values.
 *
 * Page shape: {"results": [<record>, ...], "info": {"seed": S, "page": P, ...}}
 * in any member order; other top-level members are skipped. */
#ifndef LD_JSON_H
#define LD_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    LD_J_MISSING = 0,
    LD_J_NULL,
    LD_J_FALSE,
    LD_J_TRUE,
    LD_J_INT,    /* integer literal that fits in int64: i is its value */
    LD_J_NUMBER, /* any other number (fraction, exponent, huge) */
    LD_J_STRING,
    LD_J_OBJECT,
    LD_J_ARRAY,
} ld_jtype;

typedef struct ld_jval {
    ld_jtype type;
    const char *s; /* STRING: decoded text; numbers: their literal */
    size_t n;
    long long i;
} ld_jval;

/* The members of a user record the loader reads, by path. */
typedef enum {
    LD_F_GENDER = 0,
    LD_F_NAME,
    LD_F_NAME_TITLE,
    LD_F_NAME_FIRST,
    LD_F_NAME_LAST,
    LD_F_LOCATION,
    LD_F_STREET,
    LD_F_STREET_NUMBER,
    LD_F_STREET_NAME,
    LD_F_CITY,
    LD_F_STATE,
    LD_F_COUNTRY,
    LD_F_POSTCODE,
    LD_F_COORDINATES,
    LD_F_LATITUDE,
    LD_F_LONGITUDE,
    LD_F_TIMEZONE,
    LD_F_TZ_OFFSET,
    LD_F_TZ_DESCRIPTION,
    LD_F_EMAIL,
    LD_F_LOGIN,
    LD_F_UUID,
    LD_F_USERNAME,
    LD_F_DOB,
    LD_F_DOB_DATE,
    LD_F_REGISTERED,
    LD_F_REGISTERED_DATE,
    LD_F_PHONE,
    LD_F_CELL,
    LD_F_ID,
    LD_F_ID_NAME,
    LD_F_ID_VALUE,
    LD_F_PICTURE,
    LD_F_PICTURE_LARGE,
    LD_F_PICTURE_MEDIUM,
    LD_F_PICTURE_THUMBNAIL,
    LD_F_NAT,
    LD_F_COUNT
} ld_field;

/* "location.street.number" etc., for reasons. */
extern const char *const ld_field_path[LD_F_COUNT];

typedef struct ld_record {
    ld_jtype type; /* of the element itself (OBJECT for a record) */
    ld_jval f[LD_F_COUNT];
    int duplicate;   /* field id + 1 of a member that appeared twice, 0: none */
    const char *raw; /* the element's bytes in the page */
    size_t raw_len;
} ld_record;

/* Called for each element of "results", in order, as soon as it is scanned
 * (before the rest of the page is checked: discard work if the page fails).
 * Strings in rec live until the callback returns. Return 0 to go on. */
typedef int (*ld_json_on_record)(const ld_record *rec, long index, void *arg);

typedef struct ld_json_page {
    bool has_results;
    long n_results;
    bool has_info;
    ld_jval info_seed, info_page; /* MISSING when absent; seed text copied */
    char seed_buf[256];
} ld_json_page;

/* Scans (body, len). Returns 0 when the whole body is valid JSON (an object
 * with a "results" array, else err says so), -1 with a reason, -2 when the
 * callback failed. */
int ld_json_scan(const char *body, size_t len, ld_json_page *page, ld_json_on_record cb, void *arg,
                 char *err, size_t errlen);

/* Validates (s, n) as one JSON document of any type (for tests and the fuzz
 * oracle). Returns 0 or -1. */
int ld_json_validate(const char *s, size_t n);

#endif
