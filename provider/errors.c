/* km_status: how every layer below the store reports a failure. The store
 * turns the first recorded failure into an OpenSSL error (provider.c). */
#include <stdarg.h>
#include <stdio.h>

#include "keystore.h"

int km_fail(km_status *st, int reason, const char *fmt, ...)
{
    va_list ap;

    if (st == NULL || st->reason != 0)
        return 0;
    st->reason = reason;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    va_end(ap);
    return 0;
}
