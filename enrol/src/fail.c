/* Error messages and reason names. */
#include <stdarg.h>
#include <stdio.h>
#include <openssl/err.h>

#include "fail.h"

km_enrol_reason kme_fail(char *err, size_t n, km_enrol_reason reason, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || n == 0)
        return reason;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    kme_one_line(err);
    return reason;
}

void kme_one_line(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

const char *kme_crypto_cause(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, n, "unknown");
    else
        ERR_error_string_n(e, buf, n);
    return buf;
}

const char *km_enrol_reason_name(km_enrol_reason reason)
{
    switch (reason) {
    case KM_ENROL_OK: return "OK";
    case KM_ENROL_BAD_ARGUMENT: return "BAD_ARGUMENT";
    case KM_ENROL_UNREACHABLE: return "UNREACHABLE";
    case KM_ENROL_TIMEOUT: return "TIMEOUT";
    case KM_ENROL_TLS: return "TLS";
    case KM_ENROL_CERT_REFUSED: return "CERT_REFUSED";
    case KM_ENROL_UNAUTHORIZED: return "UNAUTHORIZED";
    case KM_ENROL_REFUSED: return "REFUSED";
    case KM_ENROL_SERVICE: return "SERVICE";
    case KM_ENROL_BAD_RESPONSE: return "BAD_RESPONSE";
    case KM_ENROL_INTERNAL: return "INTERNAL";
    }
    return "UNKNOWN";
}
