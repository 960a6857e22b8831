/* us_log: leveled logging to stderr, shared by every userstream program.
 *
 * One line per event: "<UTC time> <program> <LEVEL> <message>". Row payloads
 * and secrets never go through here; log ids, LSNs and counts instead. */
#ifndef US_LOG_H
#define US_LOG_H

#include <stdarg.h>

typedef enum {
    US_LOG_DEBUG = 0,
    US_LOG_INFO = 1,
    US_LOG_WARN = 2,
    US_LOG_ERROR = 3,
    US_LOG_OFF = 4,
} us_log_level;

/* Sets the program name printed on every line (not copied: pass a literal). */
void us_log_set_program(const char *name);
void us_log_set_level(us_log_level level);
us_log_level us_log_get_level(void);

/* Parses "debug", "info", "warn"/"warning", "error", "off" (any case).
 * Returns 0 and sets *out, or -1 when the name is unknown. */
int us_log_level_parse(const char *name, us_log_level *out);

void us_log(us_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void us_vlog(us_log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define us_debug(...) us_log(US_LOG_DEBUG, __VA_ARGS__)
#define us_info(...) us_log(US_LOG_INFO, __VA_ARGS__)
#define us_warn(...) us_log(US_LOG_WARN, __VA_ARGS__)
#define us_error(...) us_log(US_LOG_ERROR, __VA_ARGS__)

#endif
