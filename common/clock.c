/* kmtls/clock.h */
#include <stdio.h>
#include <time.h>

#include "kmtls/clock.h"

double km_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

const char *km_utc_text(time_t t, char *buf, size_t n)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, n, "?");
    return buf;
}
