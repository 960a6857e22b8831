/* ld_page: one fetched page -> COPY text for staging users and rejects.
 *
 * A page is the randomuser 1.4 response body (randomuser-api.md §5.1):
 *   {"results": [<user>, ...], "info": {"seed": S, "results": N, "page": P, "version": V}}
 * "info" may be absent (noinfo). The body is untrusted: anything that is not
 * that shape makes the whole page BAD (the caller retries it, then rejects it
 * whole with ld_page_reject). Inside a good page every record is validated by
 * ld_user on its own: a valid one becomes a line of `users`, an invalid one a
 * line of `rejects` with its reason and its text without credentials. */
#ifndef LD_PAGE_H
#define LD_PAGE_H

#include "ld_copy.h"

#include <stddef.h>

/* Where a page came from: the lineage written with every row. */
typedef struct ld_page_ctx {
    const char *source_url; /* the page URL, credentials removed */
    const char *seed;       /* the seed requested */
    long page;              /* the page requested */
    long expected;          /* users requested (results=) */
    const char *fetched_at; /* ISO 8601 UTC time the response arrived */
    const char *run_id;
    size_t raw_max; /* longest raw_text stored for a reject */
} ld_page_ctx;

typedef enum {
    LD_PAGE_OK = 0,
    LD_PAGE_SHORT, /* well formed, but fewer users than requested */
    LD_PAGE_BAD,   /* unusable: not JSON, wrong shape, wrong seed/page */
} ld_page_status;

typedef struct ld_page_out {
    us_buf users;   /* COPY lines: ld_user_columns then the lineage columns */
    us_buf rejects; /* COPY lines: LD_REJECT_COLUMNS */
    long fetched;   /* records in the page */
    long valid;     /* lines in users */
    long rejected;  /* lines in rejects */
} ld_page_out;

/* Lineage columns appended after ld_user_columns in every users line. */
#define LD_LINEAGE_COLUMNS "source_url, source_seed, source_page, fetched_at, run_id"
#define LD_REJECT_COLUMNS                                                                          \
    "run_id, source_url, source_seed, source_page, record_index, reason, raw_text, fetched_at"

void ld_page_out_init(ld_page_out *out);
void ld_page_out_reset(ld_page_out *out);
void ld_page_out_free(ld_page_out *out);

/* Parses and flattens (body, len). Fills out (reset first) unless the page is
 * BAD; the reason for SHORT/BAD goes to reason. Returns the status, or -1
 * when memory ran out. */
int ld_page_process(const char *body, size_t len, const ld_page_ctx *ctx, ld_page_out *out,
                    char *reason, size_t reasonlen);

/* randomuser.me reads a seed of exactly 18 characters as 16 characters and a
 * nationality index, parseInt(last two, 16) (randomuser-api.md §6.1, §6.5),
 * and answers it with info.seed = seed + the index as two hex digits.
 * Returns that index (0-20), LD_SEED_PLAIN for a seed of another length (or
 * with non-ASCII bytes: the server counts UTF-16 units, not judged here), or
 * LD_SEED_BAD_NAT for an 18-character seed whose index is no nationality
 * (the server fails every request for it). */
#define LD_SEED_PLAIN (-1)
#define LD_SEED_BAD_NAT (-2)
int ld_seed_nat_index(const char *seed);

/* Appends one whole-page reject line (record_index NULL) to out->rejects. */
int ld_page_reject(const ld_page_ctx *ctx, const char *reason, const char *body, size_t len,
                   ld_page_out *out);

#endif
