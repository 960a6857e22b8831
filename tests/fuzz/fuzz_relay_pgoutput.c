/* libFuzzer target: the pgoutput decoder. The first byte picks the stream
 * mode (data messages with or without a leading xid); the rest is decoded
 * as a sequence of messages, as the relay would after a frame. */
#include "relay_pgoutput.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static relay_pgoutput_decoder *d;
    char err[256];
    if (!d)
        d = relay_pgoutput_decoder_new();
    if (size < 1)
        return 0;
    relay_pgoutput_decoder_set_streaming(d, data[0] & 1);
    data++;
    size--;
    /* Copy so a read one past the end is caught by ASan. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    size_t at = 0;
    while (at < size) {
        relay_pgoutput_msg m;
        size_t used;
        if (relay_pgoutput_decode(d, buf + at, size - at, &m, &used, err, sizeof err) < 0)
            break;
        if (m.type == RELAY_PGOUTPUT_RELATION) {
            relay_pgoutput_relation *c = relay_pgoutput_relation_copy(m.u.relation);
            relay_pgoutput_relation_free(c);
            relay_pgoutput_relation_free(m.u.relation);
        }
        if (m.type == RELAY_PGOUTPUT_TRUNCATE)
            for (uint32_t i = 0; i < m.u.truncate.nrelids; i++)
                (void)relay_pgoutput_truncate_relid(&m, i);
        if (m.type == RELAY_PGOUTPUT_INSERT)
            for (uint16_t i = 0; i < m.u.insert.newtup.natts; i++)
                if (m.u.insert.newtup.vals[i].len)
                    (void)m.u.insert.newtup.vals[i].data[m.u.insert.newtup.vals[i].len - 1];
        if (used == 0)
            break;
        at += used;
    }
    free(buf);
    return 0;
}
