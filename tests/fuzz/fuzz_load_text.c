/* libFuzzer target: ld_text_safe on arbitrary bytes.
 *
 * The output must be valid UTF-8 without NUL, bounded by max plus a short
 * note, and a credential member with a plain string value must not survive:
 * for input {"sha256":"<v>"} (v any bytes without quote or backslash) the
 * output is exactly {"sha256":"[removed]"}. */
#include "ld_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(const char *in, size_t n, size_t max)
{
    us_buf b = {0};
    if (ld_text_safe(&b, in, n, max) < 0)
        abort();
    for (size_t i = 0; i < b.len;) {
        size_t k = ld_utf8_seq((const unsigned char *)b.data + i, b.len - i);
        if (!k)
            abort();
        i += k;
    }
    if (b.len > max + 64)
        abort();
    us_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check((const char *)data, size, 1u << 20);
    check((const char *)data, size, 16);

    /* property: a plain credential value is always removed */
    if (size >= 6 && size < 200 && !memchr(data, '"', size) && !memchr(data, '\\', size)) {
        char in[256];
        int n = snprintf(in, sizeof in, "{\"sha256\":\"%.*s\"}", (int)size, (const char *)data);
        us_buf b = {0};
        ld_text_scrub(&b, in, (size_t)n);
        static const char want[] = "{\"sha256\":\"[removed]\"}";
        if (!b.data || b.len != sizeof want - 1 || memcmp(b.data, want, b.len) != 0)
            abort();
        us_buf_free(&b);
    }
    return 0;
}
