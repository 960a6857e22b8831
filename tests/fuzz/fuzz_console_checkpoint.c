/* libFuzzer target: a Spark Structured Streaming offsets file, written by
 * another program and read by the console (con_checkpoint). */
#include "con_checkpoint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    json_t *j = con_checkpoint_parse_offsets(buf, size, err, sizeof(err));
    if (j) {
        char *dump = json_dumps(j, 0);
        if (!dump)
            abort();
        free(dump);
    }
    json_decref(j);
    free(buf);
    return 0;
}
