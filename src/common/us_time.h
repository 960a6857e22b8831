/* us_time: the clocks of userstream's programs.
 *
 * Monotonic time measures durations and deadlines (never jumps); wall time
 * stamps records and rate windows. Both as unsigned counts since the clock's
 * epoch, in the unit the name says. */
#ifndef US_TIME_H
#define US_TIME_H

#include <stdint.h>
#include <time.h>

uint64_t us_mono_ns(void);
int64_t us_mono_ms(void);
uint64_t us_wall_us(void);
int64_t us_wall_ms(void);
/* The monotonic clock ms milliseconds from now, as pthread_cond_timedwait
 * takes it (a condition variable set to CLOCK_MONOTONIC). */
struct timespec us_mono_after_ms(int64_t ms);

#endif
