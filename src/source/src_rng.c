#include "src_rng.h"

#include <nettle/md5.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

src_key src_key_of(const char *seed, size_t n)
{
    struct md5_ctx ctx;
    uint8_t d[MD5_DIGEST_SIZE];
    md5_init(&ctx);
    md5_update(&ctx, n, (const uint8_t *)seed);
    md5_digest(&ctx, sizeof d, d);
    src_key k = {0, 0};
    for (int i = 0; i < 8; i++) {
        k.k0 = (k.k0 << 8) | d[i];
        k.k1 = (k.k1 << 8) | d[8 + i];
    }
    return k;
}

void src_rng_init(src_rng *r, src_key key, uint64_t index)
{
    uint64_t x = key.k0 ^ splitmix64(&(uint64_t){key.k1 + index * 0xD1B54A32D192ED03ull});
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

void src_rng_seed(src_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

void src_rng_chars(src_rng *r, char *out, size_t n, const char *set, size_t set_len)
{
    for (size_t i = 0; i < n; i++)
        out[i] = set[src_rng_below(r, (uint32_t)set_len)];
}
