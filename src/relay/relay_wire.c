/* relay_wire: see relay_wire.h. */
#include "relay_wire.h"

#include <stdio.h>
#include <string.h>

void relay_cursor_init(relay_cursor *c, const void *buf, size_t len)
{
    c->p = buf;
    c->end = c->p + len;
    c->bad = false;
}

size_t relay_cursor_left(const relay_cursor *c)
{
    return c->bad ? 0 : (size_t)(c->end - c->p);
}

/* Claims n bytes, or marks the cursor bad. */
static const uint8_t *take(relay_cursor *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *r = c->p;
    c->p += n;
    return r;
}

uint8_t relay_read_u8(relay_cursor *c)
{
    const uint8_t *b = take(c, 1);
    return b ? b[0] : 0;
}

uint16_t relay_read_u16(relay_cursor *c)
{
    const uint8_t *b = take(c, 2);
    return b ? (uint16_t)((b[0] << 8) | b[1]) : 0;
}

uint32_t relay_read_u32(relay_cursor *c)
{
    const uint8_t *b = take(c, 4);
    if (!b)
        return 0;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

uint64_t relay_read_u64(relay_cursor *c)
{
    uint64_t hi = relay_read_u32(c);
    uint64_t lo = relay_read_u32(c);
    return (hi << 32) | lo;
}

const char *relay_read_cstr(relay_cursor *c, size_t *len)
{
    if (c->bad)
        return NULL;
    const uint8_t *nul = memchr(c->p, 0, (size_t)(c->end - c->p));
    if (!nul) {
        c->bad = true;
        return NULL;
    }
    const char *s = (const char *)c->p;
    if (len)
        *len = (size_t)(nul - c->p);
    c->p = nul + 1;
    return s;
}

const uint8_t *relay_read_bytes(relay_cursor *c, size_t n)
{
    return take(c, n);
}

void relay_put_u8(uint8_t *p, uint8_t v)
{
    p[0] = v;
}

void relay_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void relay_put_u64(uint8_t *p, uint64_t v)
{
    relay_put_u32(p, (uint32_t)(v >> 32));
    relay_put_u32(p + 4, (uint32_t)v);
}

/* "16/B374D848": two hex numbers of at most 8 digits each, nothing else. */
int relay_lsn_parse(const char *s, uint64_t *out)
{
    unsigned hi, lo;
    int n = 0;
    if (!s || strlen(s) > 17 || sscanf(s, "%8X/%8X%n", &hi, &lo, &n) != 2 || s[n] != '\0')
        return -1;
    *out = ((uint64_t)hi << 32) | lo;
    return 0;
}

int64_t relay_pg_to_unix_us(int64_t pg_us)
{
    return pg_us + RELAY_PG_EPOCH_OFFSET_US;
}

int64_t relay_unix_to_pg_us(int64_t unix_us)
{
    return unix_us - RELAY_PG_EPOCH_OFFSET_US;
}
