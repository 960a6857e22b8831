/* src_nat: the nationalities and what differs between them: codes, country
 * names, and the per-nationality phone, cell, id, postcode and title formats
 * of randomuser.me 1.4 (upstream's api/1.4/data/<NAT>/inject.js, with NL in
 * the "Dutch standard" format that the live service uses). */
#ifndef SRC_NAT_H
#define SRC_NAT_H

#include "src_rng.h"
#include "src_user.h"

#include <stdbool.h>
#include <stddef.h>

/* Index order = upstream's (sorted directory names); an 18-character seed
 * ends in a hex index into it. */
enum {
    SRC_NAT_AU,
    SRC_NAT_BR,
    SRC_NAT_CA,
    SRC_NAT_CH,
    SRC_NAT_DE,
    SRC_NAT_DK,
    SRC_NAT_ES,
    SRC_NAT_FI,
    SRC_NAT_FR,
    SRC_NAT_GB,
    SRC_NAT_IE,
    SRC_NAT_IN,
    SRC_NAT_IR,
    SRC_NAT_MX,
    SRC_NAT_NL,
    SRC_NAT_NO,
    SRC_NAT_NZ,
    SRC_NAT_RS,
    SRC_NAT_TR,
    SRC_NAT_UA,
    SRC_NAT_US,
    SRC_NAT_LEGO,
    SRC_NAT_COUNT,
};
#define SRC_NAT_REAL 21

const char *src_nat_code(int nat);
/* Full English country name; NULL for LEGO (which has no country key). */
const char *src_nat_country(int nat);
/* Index of an upper-case code of n bytes ("US"), or -1. LEGO is not a code. */
int src_nat_from_code(const char *s, size_t n);

/* Fills phone, cell, id, postcode and (CH) title of u for its nationality.
 * Needs gender, names and dob already set. */
void src_nat_inject(src_user *u, src_rng *r, bool quirks, int64_t dob_ms);

/* Writes one string of pattern `pat` into out (NUL-terminated); returns its
 * length. 'd' digit, 'N' digit 2-9, 'L' letter A-Z, 'C' a letter of UK
 * postcodes' inward code, "[xyz]" one of x, y, z; anything else is copied. */
size_t src_pattern(src_rng *r, const char *pat, char *out);

/* Internal to src_nat.c / src_natid.c: ids that need a computation (check
 * digits, dates), and CA/UA phones without upstream's letters. */
size_t src_natid_compute(src_user *u, src_rng *r, bool quirks, int64_t dob_ms);
size_t src_natid_fixed_phone(int nat, src_rng *r, char *out);

#endif
