/*
 * The debug trace: lines on stderr saying what the code found and decided,
 * each with a timestamp and where it was written. On with the environment
 * variable KAFKA_MTLS_DEBUG=1 or the provider's "debug" configuration key.
 * Never a secret: callers pass paths, names and counts, never passwords or
 * key bytes.
 */
#ifndef KMTLS_TRACE_H
#define KMTLS_TRACE_H

/* 1 when tracing is on. */
int km_trace_on(void);
/* Turns tracing on for the process (the provider's "debug = 1"). */
void km_trace_enable(void);

void km_trace_at(const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define km_trace(...) \
    (km_trace_on() ? km_trace_at(__FILE__, __LINE__, __func__, __VA_ARGS__) : (void)0)

#endif
