/* Time as every layer measures and shows it: elapsed time on the monotonic
 * clock (waits, deadlines, timings), and a moment in UTC for people. */
#ifndef KMTLS_CLOCK_H
#define KMTLS_CLOCK_H

#include <stddef.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC: only differences mean anything. */
double km_now_ms(void);
/* t as "2026-01-02 03:04:05 UTC" into buf ("?" if it cannot be shown); returns buf. */
const char *km_utc_text(time_t t, char *buf, size_t n);

#endif
