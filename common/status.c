/* km_status: the first failure, where it was raised, and its causes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>

#include "kafka-mtls.h"
#include "kmtls/status.h"
#include "kmtls/trace.h"

unsigned long km_crypto_last_error(void)
{
    return ERR_peek_last_error();
}

int km_fail_at(km_status *st, int reason, int sys_errno, unsigned long crypto_error, const char *file,
               int line, const char *func, const char *fmt, ...)
{
    char detail[320];
    va_list ap;
    int n;

    if (st == NULL || st->reason != 0)
        return 0;
    *st = (km_status){ .reason = reason, .file = file, .line = line, .func = func,
                       .sys_errno = sys_errno, .crypto_error = crypto_error };
    va_start(ap, fmt);
    n = vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    va_end(ap);
    if (sys_errno != 0 && n >= 0 && (size_t)n < sizeof(st->msg))
        snprintf(st->msg + n, sizeof(st->msg) - (size_t)n, ": %s", strerror(sys_errno));
    /* an internal error has no better words than libcrypto's own */
    if (reason == KAFKA_MTLS_R_INTERNAL && crypto_error != 0 && n >= 0 && (size_t)n < sizeof(st->msg)) {
        char crypto[256];

        ERR_error_string_n(crypto_error, crypto, sizeof(crypto));
        snprintf(st->msg + n, sizeof(st->msg) - (size_t)n, ": %s", crypto);
    }
    if (km_trace_on())
        km_trace_at(file, line, func, "failure (reason %d): %s%s%s", reason, st->msg,
                    km_status_detail(st, detail, sizeof(detail))[0] != '\0' ? " -- " : "", detail);
    return 0;
}

int km_status_take(km_status *st, const km_status *src, int reason)
{
    if (st == NULL || st->reason != 0 || src->reason == 0)
        return 0;
    *st = *src;
    if (reason != 0)
        st->reason = reason;
    return 0;
}

const char *km_status_detail(const km_status *st, char *buf, size_t n)
{
    char crypto[256] = "";
    size_t len = 0;

    buf[0] = '\0';
    if (st->sys_errno != 0)
        len = (size_t)snprintf(buf, n, "errno %d", st->sys_errno);
    if (st->crypto_error != 0 && len < n) {
        ERR_error_string_n(st->crypto_error, crypto, sizeof(crypto));
        snprintf(buf + len, n - len, "%slibcrypto: %s", len ? "; " : "", crypto);
    }
    return buf;
}
