/* The debug trace (kmtls/trace.h): one line at a time on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka-mtls.h"
#include "kmtls/trace.h"

/* -1 not decided yet, 0 off, 1 on. */
static int state = -1;

int km_trace_on(void)
{
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);

    if (s < 0) {
        const char *env = getenv(KAFKA_MTLS_ENV_DEBUG);
        int want = env != NULL && strcmp(env, "1") == 0;

        /* a concurrent km_trace_enable wins over the environment's "off" */
        if (!__atomic_compare_exchange_n(&state, &s, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return s;
        s = want;
    }
    return s;
}

void km_trace_enable(void)
{
    __atomic_store_n(&state, 1, __ATOMIC_RELEASE);
}

void km_trace_at(const char *file, int line, const char *func, const char *fmt, ...)
{
    char text[1536], stamp[32];
    const char *base = strrchr(file, '/');
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (!km_trace_on())
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    /* one write per line: lines of concurrent threads do not interleave */
    fprintf(stderr, "kafka-mtls: %s.%03ldZ [%ld] %s:%d %s: %s\n", stamp, ts.tv_nsec / 1000000L,
            (long)getpid(), base != NULL ? base + 1 : file, line, func, text);
}
