/*
 * Lifetimes of issued certificates in days, hours, minutes or seconds:
 * "90d" as before, and the short lifetimes of SPIFFE-style deployments
 * ("12h", "30m") that a count of days cannot express. The renew window
 * (renewal.c) takes the same units.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issue_internal.h"
#include "kmtls/issuer.h"

long km_duration_unit(const char *unit)
{
    static const struct {
        const char *name;
        long seconds;
    } units[] = { { "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 } };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit, units[i].name) == 0)
            return units[i].seconds;
    return 0;
}

int km_validity_parse(const char *spec, long *seconds, char *err, size_t n)
{
    const long max = (long)KM_MAX_VALIDITY_DAYS * 86400;
    char *end;
    long v, unit;

    errno = 0;
    v = spec != NULL && isdigit((unsigned char)spec[0]) ? strtol(spec, &end, 10) : -1;
    unit = v >= 0 && errno == 0 ? km_duration_unit(end) : 0;
    if (unit == 0 || v > max / unit || v * unit < KM_MIN_VALIDITY_SECONDS || v * unit > max) {
        snprintf(err, n, "validity '%s': expected N followed by d, h, m or s, from %ds to %dd "
                 "(e.g. 90d, 12h, 30m)", spec != NULL ? spec : "", KM_MIN_VALIDITY_SECONDS, KM_MAX_VALIDITY_DAYS);
        return 0;
    }
    *seconds = v * unit;
    return 1;
}

int km_validity_check(const char *spec, km_status *st)
{
    char err[256];
    long seconds;

    return km_validity_parse(spec, &seconds, err, sizeof(err)) || km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s", err);
}

int km_renew_window_check(long lifetime, const km_renew_before *rb, km_status *st)
{
    long before;

    switch (rb != NULL ? rb->kind : KM_RENEW_FRACTION) {
    case KM_RENEW_DAYS:
        before = rb->value > lifetime / 86400 + 1 ? lifetime + 1 : rb->value * 86400;
        break;
    case KM_RENEW_SECONDS:
        before = rb->value;
        break;
    default: /* a fraction of the lifetime always leaves some of it */
        return 1;
    }
    if (before < lifetime)
        return 1;
    return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "a renew window of %lds is not shorter than the lifetime of "
                   "%lds: every certificate would be renewed as soon as it is issued", before, lifetime);
}
