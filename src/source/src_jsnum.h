/* src_jsnum: the JavaScript number semantics that upstream's parameter
 * handling relies on (Node's Number(), parseInt(s, 16), Number#toString),
 * so that "results=1e1", "page=0x10" or "page=1.5" behave as on randomuser.me.
 * Every input is an explicit (pointer, length) pair: bytes, not C strings. */
#ifndef SRC_JSNUM_H
#define SRC_JSNUM_H

#include <stdbool.h>
#include <stddef.h>

/* Number(s) for a string: trims JS white space, "" -> 0, decimal with
 * optional sign/fraction/exponent, "Infinity", 0x/0o/0b integers; anything
 * else is NaN. */
double src_js_number(const char *s, size_t n);

/* parseInt(s, 16): leading white space, optional sign, optional 0x, then as
 * many hex digits as there are; NaN when there are none. */
double src_js_parse_hex(const char *s, size_t n);

/* String(d) as JavaScript prints it (shortest round-trip digits, exponent
 * form below 1e-6 and from 1e21). out needs 32 bytes; returns the length. */
size_t src_js_number_string(double d, char *out);

/* Length of s in UTF-16 code units (what JS .length reports), for valid
 * UTF-8; other bytes count one each. */
size_t src_js_utf16_len(const char *s, size_t n);

/* Byte offset just past the first `units` UTF-16 code units of s. A
 * character that would be cut in half is left out. */
size_t src_js_utf16_offset(const char *s, size_t n, size_t units);

/* Length of the JS white space or line terminator that starts at s, or 0. */
size_t src_js_space_len(const char *s, size_t n);

#endif
