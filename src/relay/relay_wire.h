/* relay_wire: bounded big-endian reading and writing, LSNs and PostgreSQL
 * time, shared by every wire parser of the relay.
 *
 * Every read goes through a (ptr, end) cursor: a read that would pass the end
 * fails and leaves the cursor marked bad, so parsers check once per message
 * instead of once per field, and nothing is ever read past the buffer. */
#ifndef RELAY_WIRE_H
#define RELAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct relay_cursor {
    const uint8_t *p;
    const uint8_t *end;
    bool bad; /* a read ran past the end, or a string had no terminator */
} relay_cursor;

void relay_cursor_init(relay_cursor *c, const void *buf, size_t len);
size_t relay_cursor_left(const relay_cursor *c);
uint8_t relay_read_u8(relay_cursor *c);
uint16_t relay_read_u16(relay_cursor *c);
uint32_t relay_read_u32(relay_cursor *c);
uint64_t relay_read_u64(relay_cursor *c);
/* A NUL-terminated string inside the buffer; returns a pointer into it and
 * its length without the NUL, or NULL (cursor bad) when no NUL remains. */
const char *relay_read_cstr(relay_cursor *c, size_t *len);
/* n raw bytes; NULL (cursor bad) when fewer remain. */
const uint8_t *relay_read_bytes(relay_cursor *c, size_t n);

void relay_put_u8(uint8_t *p, uint8_t v);
void relay_put_u32(uint8_t *p, uint32_t v);
void relay_put_u64(uint8_t *p, uint64_t v);

/* LSNs are uint64_t everywhere, printed and parsed as PostgreSQL does: %X/%X. */
#define RELAY_LSN_FMT "%X/%X"
#define RELAY_LSN_ARGS(lsn) (unsigned)((lsn) >> 32), (unsigned)(lsn)
int relay_lsn_parse(const char *s, uint64_t *out);

/* PostgreSQL timestamps count microseconds from 2000-01-01 UTC. */
#define RELAY_PG_EPOCH_OFFSET_US INT64_C(946684800000000)
int64_t relay_pg_to_unix_us(int64_t pg_us);
int64_t relay_unix_to_pg_us(int64_t unix_us);

#endif
