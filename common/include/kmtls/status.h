/*
 * How every layer reports a failure: a kafka_mtls_reason, a message for the
 * user that names the file or property and the cause, where it was raised,
 * and what the system and libcrypto said. Only the first failure is kept:
 * the root cause is what the user needs.
 */
#ifndef KMTLS_STATUS_H
#define KMTLS_STATUS_H

#include <stddef.h>

typedef struct km_status {
    int reason;                 /* kafka_mtls_reason; 0: no failure */
    char msg[512];
    const char *file;           /* where the failure was raised */
    int line;
    const char *func;
    int sys_errno;              /* errno behind it, or 0 */
    unsigned long crypto_error; /* libcrypto's error code behind it, or 0 */
} km_status;

int km_fail_at(km_status *st, int reason, int sys_errno, unsigned long crypto_error, const char *file,
               int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* Records a failure (the first one only); always returns 0, so that
 * `return km_fail(st, ...)` reports it. */
#define km_fail(st, reason, ...) km_fail_at(st, reason, 0, 0, __FILE__, __LINE__, __func__, __VA_ARGS__)
/* The same for a failed system call: ": strerror(err)" ends the message. */
#define km_fail_errno(st, reason, err, ...) \
    km_fail_at(st, reason, err, 0, __FILE__, __LINE__, __func__, __VA_ARGS__)
/* The same after a failed libcrypto call: its last queued error is kept
 * (and, for KAFKA_MTLS_R_INTERNAL, ends the message). */
#define km_fail_crypto(st, reason, ...) \
    km_fail_at(st, reason, 0, km_crypto_last_error(), __FILE__, __LINE__, __func__, __VA_ARGS__)

unsigned long km_crypto_last_error(void);

/* Takes src's failure into st (unless st holds one already), under reason
 * when it is not 0; where it was raised and why stay src's. Returns 0. */
int km_status_take(km_status *st, const km_status *src, int reason);

/* "errno: ...; libcrypto: ..." for st, or "" when neither said anything. */
const char *km_status_detail(const km_status *st, char *buf, size_t n);

#endif
