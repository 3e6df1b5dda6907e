/*
 * When to renew: the renew window is the end of the certificate's lifetime,
 * by default its last third (so a 90-day certificate is renewed from day 60),
 * or the last N days (hours, minutes, seconds), or the last N percent.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "kmtls/issuer.h"
#include "kmtls/x509.h"
#include "issue_internal.h"

int km_renew_before_parse(const char *spec, km_renew_before *out, char *err, size_t n)
{
    char *end;
    long v;

    memset(out, 0, sizeof(*out));
    out->kind = KM_RENEW_FRACTION;
    if (spec == NULL || spec[0] == '\0')
        return 1;
    errno = 0;
    v = isdigit((unsigned char)spec[0]) ? strtol(spec, &end, 10) : -1;
    if (v < 0 || errno != 0) {
        snprintf(err, n, "renew-before '%s': expected N (days), Nd, Nh, Nm, Ns or N%% (of the lifetime)", spec);
        return 0;
    }
    if ((end[0] == '\0' || strcmp(end, "d") == 0) && v <= KM_MAX_VALIDITY_DAYS) {
        out->kind = KM_RENEW_DAYS;
        out->value = v;
        return 1;
    }
    if (strcmp(end, "d") != 0 && km_duration_unit(end) != 0 &&
        v <= (long)KM_MAX_VALIDITY_DAYS * 86400 / km_duration_unit(end)) {
        out->kind = KM_RENEW_SECONDS;
        out->value = v * km_duration_unit(end);
        return 1;
    }
    if (strcmp(end, "%") == 0 && v >= 1 && v <= 99) {
        out->kind = KM_RENEW_PERCENT;
        out->value = v;
        return 1;
    }
    snprintf(err, n, "renew-before '%s': expected N (days, 0-%d), Nd, Nh, Nm, Ns or N%% (1-99)", spec,
             KM_MAX_VALIDITY_DAYS);
    return 0;
}

int km_renew_before_check(const char *spec, km_status *st)
{
    km_renew_before rb;
    char err[256];

    return km_renew_before_parse(spec, &rb, err, sizeof(err)) || km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s", err);
}

int km_renewal_state(const X509 *leaf, const km_renew_before *rb, time_t now, time_t *window_start)
{
    time_t nb, na, lifetime, before;

    if (!km_time_of(X509_get0_notBefore(leaf), &nb) || !km_time_of(X509_get0_notAfter(leaf), &na))
        return -1;
    lifetime = na > nb ? na - nb : 0;
    switch (rb != NULL ? rb->kind : KM_RENEW_FRACTION) {
    case KM_RENEW_DAYS:
        before = (time_t)rb->value * 86400;
        break;
    case KM_RENEW_SECONDS:
        before = (time_t)rb->value;
        break;
    case KM_RENEW_PERCENT:
        before = (time_t)((long long)lifetime * rb->value / 100);
        break;
    default:
        before = lifetime / 3;
        break;
    }
    if (window_start != NULL)
        *window_start = na - before;
    if (now >= na || now < nb)
        return KM_CERT_EXPIRED;
    if (now >= na - before)
        return KM_CERT_RENEW;
    return KM_CERT_FRESH;
}
