/* libFuzzer target: replication CopyData frames ('w' XLogData, 'k' keepalive). */
#include "relay_repl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    relay_frame f;
    char err[128];
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    if (relay_frame_parse(buf, size, &f, err, sizeof err) == 0 && f.payload_len)
        (void)f.payload[f.payload_len - 1];
    free(buf);
    return 0;
}
