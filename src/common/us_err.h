/* us_err: the caller-owned error buffer of every fallible function.
 *
 * Functions return 0 or -1 and, on -1, leave a one-line reason in
 * (err, errlen). us_errf writes that reason and is -1, so a failure is one
 * statement:
 *
 *     if (fd < 0)
 *         return us_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
 *
 * us_errp is the same for functions that return a pointer (it is NULL).
 * They are macros around us_err_set so that the compiler sees the constant
 * result (and knows that a caller's "< 0" branch is taken); the format is
 * checked like printf's. err may be NULL (or errlen 0) when the caller does
 * not want the reason. */
#ifndef US_ERR_H
#define US_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Formats the reason into err. */
void us_err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void us_err_vset(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define us_errf(err, errlen, ...) (us_err_set((err), (errlen), __VA_ARGS__), -1)
#define us_errp(err, errlen, ...) (us_err_set((err), (errlen), __VA_ARGS__), (void *)0)

#endif
