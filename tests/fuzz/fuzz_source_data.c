/* libFuzzer target: the data-list parser (src_data_parse), which reads the
 * embedded TSV files at start-up. Trusted input, but a parser all the same:
 * it must reject, never overrun, whatever it is given. */
#include "src_data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    src_data d;
    char err[256];
    memset(&d, 0, sizeof d);
    /* The first byte picks the file kind: shared lists or a nationality. */
    const char *name = size && (data[0] & 1) ? "common" : "DE";
    src_data_parse(&d, name, (const char *)data + (size ? 1 : 0), size ? size - 1 : 0, err,
                   sizeof err);
    src_data_free(&d);
    return 0;
}
