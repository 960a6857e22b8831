/* src_rng: the deterministic random streams behind every response.
 *
 * A request's key is MD5 of its seed string (as upstream: the seed, plus the
 * page number when page != 1). Record i of the response draws from its own
 * xoshiro256** stream seeded from (key, i), so a record does not depend on
 * `results`, on the other records, or on inc/exc: the same seed and page give
 * the same users whatever else is asked, and pages are independent. */
#ifndef SRC_RNG_H
#define SRC_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct src_key {
    uint64_t k0, k1;
} src_key;

typedef struct src_rng {
    uint64_t s[4];
} src_rng;

/* Key of a seed string (any bytes). */
src_key src_key_of(const char *seed, size_t n);
/* Stream of record `index` under `key`. */
void src_rng_init(src_rng *r, src_key key, uint64_t index);
/* Stream from a plain 64-bit seed (fault decisions, random seeds). */
void src_rng_seed(src_rng *r, uint64_t seed);

static inline uint64_t src_rng_next(src_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform in [0, n) for n >= 1 (multiply-shift; bias below 2^-40). */
static inline uint32_t src_rng_below(src_rng *r, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)src_rng_next(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline int64_t src_rng_range(src_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(((unsigned __int128)src_rng_next(r) * span) >> 64);
}

/* Uniform double in [0, 1). */
static inline double src_rng_unit(src_rng *r)
{
    return (double)(src_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Writes n characters drawn from `set` (set_len characters) into out. */
void src_rng_chars(src_rng *r, char *out, size_t n, const char *set, size_t set_len);

#endif
