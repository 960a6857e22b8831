/* src_request: what a query string asks for, after upstream's sanitising
 * (routes/api.js and api/1.4/api.js): every bad value falls back to its
 * default, as randomuser.me does, so almost every request is answered 200. */
#ifndef SRC_REQUEST_H
#define SRC_REQUEST_H

#include "src_format.h"
#include "src_qs.h"
#include "src_user.h"

#include <stdbool.h>
#include <stddef.h>

#define SRC_MAX_RESULTS 5000

typedef struct src_request {
    int results; /* 1..5000 */
    double page; /* JS number, 1 unless 0 < page <= 10000 */
    /* The seed as given (seed_given) or empty; an 18-character seed's last
     * two characters name the nationality (nat18). */
    const char *seed;
    size_t seed_n;
    bool seed_given;
    int nat18;     /* -1, or the nationality an 18-character seed names */
    bool bad_seed; /* 18 characters, but the suffix is no nationality */
    bool lego;
    unsigned inc;
    src_format format;
    bool dl;
    bool noinfo;
    bool has_callback;
    const char *callback;
    size_t callback_n;
    src_gen_opts gen; /* gender, nationality, password; quirks/now set by caller */
    uint32_t nat_weight[21];
} src_request;

/* Fills r from q. `quirks`: keep upstream's parameter bugs (gender ignored
 * with a seed; noinfo kept by lego=false). r points into q's strings. */
void src_request_from_qs(src_request *r, const src_qs *q, bool quirks);

/* The seed string the random key is made from (seed, or its first 16
 * characters for an 18-character seed, plus String(page) when page != 1).
 * out needs seed_n + 32 bytes; returns the length. */
size_t src_request_key_string(const src_request *r, const char *seed, size_t seed_n, char *out);

#endif
