/* libFuzzer target: one API response body through the loader's parser.
 *
 * Checks, besides "no crash, no leak, no undefined behaviour":
 *  - the scanner accepts a document exactly when jansson does (differential),
 *    except that a NUL byte is always invalid for the scanner (RFC 8259) while
 *    jansson's reader skips NUL bytes between tokens ("1\0" loads as 1);
 *  - every record of a usable page ends up in exactly one of users/rejects;
 *  - everything written for PostgreSQL is valid UTF-8 without NUL bytes;
 *  - a whole-page reject of any bytes is valid UTF-8 without NUL bytes. */
#include "ld_json.h"
#include "ld_page.h"
#include "ld_text.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_text(const us_buf *b)
{
    const unsigned char *s = (const unsigned char *)b->data;
    for (size_t i = 0; i < b->len;) {
        size_t k = ld_utf8_seq(s + i, b->len - i);
        if (!k)
            abort(); /* invalid UTF-8 or NUL would fail the COPY */
        i += k;
    }
}

static long lines(const us_buf *b)
{
    long n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char reason[256];

    int ours = ld_json_validate(body, size);
    if (memchr(body, '\0', size)) {
        if (ours == 0)
            abort();
    } else {
        json_t *j = json_loadb(body, size, JSON_DECODE_ANY, NULL);
        if ((j != NULL) != (ours == 0))
            abort();
        json_decref(j);
    }

    ld_page_ctx ctx = {"http://127.0.0.1:1/api/?seed=s&page=1", "s",    1,   3,
                       "2026-01-01T00:00:00.000000Z",           "fuzz", 4096};
    ld_page_out out;
    ld_page_out_init(&out);
    int st = ld_page_process(body, size, &ctx, &out, reason, sizeof reason);
    if (st == LD_PAGE_OK || st == LD_PAGE_SHORT) {
        if (out.valid + out.rejected != out.fetched || lines(&out.users) != out.valid ||
            lines(&out.rejects) != out.rejected)
            abort();
        check_text(&out.users);
        check_text(&out.rejects);
    }
    ld_page_out_reset(&out);
    ld_page_reject(&ctx, "page: fuzz", body, size, &out);
    check_text(&out.rejects);
    ld_page_out_free(&out);
    return 0;
}
