/*
 * Which call a renewal through the CA service makes. Rekey is the cheap,
 * token-free renewal: mutual TLS with the current certificate, a new key,
 * and the service keeps the certificate's subject, SANs and lifetime
 * length. So anything the request changes among those, or a certificate
 * that can no longer authenticate (expired: the service's TLS refuses it),
 * needs a new enrolment with a token.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "enrol_internal.h"

/* Backdating by the service (step-ca: 1 minute by default) makes the
 * lifetime a little longer than asked for; more than this is another
 * lifetime. */
#define LIFETIME_SLACK_SECONDS 600

km_svc_call km_svc_plan(const km_svc_facts *f, char *why, size_t n)
{
    const char *w;
    km_svc_call c = KM_SVC_SIGN;

    if (!f->have_current)
        w = "no certificate to renew: first enrolment";
    else if (f->expired)
        w = "the certificate expired: it cannot authenticate a renewal";
    else if (!f->same_key_type)
        w = "the key type changes: a renewal keeps it";
    else if (!f->same_lifetime)
        w = "the lifetime changes: a renewal keeps it";
    else if (!f->same_identity)
        w = "the subject or SANs change: a renewal keeps them";
    else {
        w = "renewal by mutual TLS with the current certificate";
        c = KM_SVC_REKEY;
    }
    snprintf(why, n, "%s", w);
    return c;
}

/* The bits of "P-256" / "P-384". */
static int curve_bits(const char *curve)
{
    const char *dash = curve != NULL ? strchr(curve, '-') : NULL;
    int bits = 0;

    for (const char *p = dash != NULL ? dash + 1 : ""; *p >= '0' && *p <= '9'; p++)
        bits = bits * 10 + (*p - '0');
    return bits;
}

int km_svc_same_key_type(EVP_PKEY *key, const km_key_spec *spec)
{
    if (key == NULL || !EVP_PKEY_is_a(key, spec->algorithm))
        return 0;
    if (spec->rsa_bits != 0)
        return EVP_PKEY_get_bits(key) == (int)spec->rsa_bits;
    if (spec->curve != NULL)
        return EVP_PKEY_get_bits(key) == curve_bits(spec->curve);
    return 1;
}

int km_svc_same_lifetime(time_t not_before, time_t not_after, double asked_seconds)
{
    double lifetime = (double)(not_after - not_before);

    if (asked_seconds <= 0)
        return 1;
    return lifetime >= asked_seconds - 1 && lifetime <= asked_seconds + LIFETIME_SLACK_SECONDS;
}
