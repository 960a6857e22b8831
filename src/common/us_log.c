#include "us_log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *log_program = "userstream";
static us_log_level log_level = US_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void us_log_set_program(const char *name)
{
    if (name && *name)
        log_program = name;
}

void us_log_set_level(us_log_level level)
{
    log_level = level;
}

us_log_level us_log_get_level(void)
{
    return log_level;
}

int us_log_level_parse(const char *name, us_log_level *out)
{
    static const struct {
        const char *name;
        us_log_level level;
    } table[] = {{"debug", US_LOG_DEBUG},  {"info", US_LOG_INFO},   {"warn", US_LOG_WARN},
                 {"warning", US_LOG_WARN}, {"error", US_LOG_ERROR}, {"off", US_LOG_OFF}};
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcasecmp(name, table[i].name) == 0) {
            *out = table[i].level;
            return 0;
        }
    }
    return -1;
}

/* Formats the whole line first and writes it with one fputs, so lines from
 * several threads do not interleave mid-line. */
void us_vlog(us_log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    int n;

    if (level < log_level || level >= US_LOG_OFF)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, log_program, level_names[level]);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = strlen(line);
    if (len == sizeof line - 2) /* truncated: mark it, keep room for '\n' */
        memcpy(line + len - 3, "...", 3);
    line[len] = '\n';
    line[len + 1] = '\0';
    fputs(line, stderr);
}

void us_log(us_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    us_vlog(level, fmt, ap);
    va_end(ap);
}
