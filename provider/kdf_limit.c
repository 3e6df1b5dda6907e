/* The caps (kdf_limit.h), and the iteration counts read from algorithm
 * identifiers, checked against them before any key derivation runs. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "kdf_limit.h"
#include "kmtls/trace.h"

/* From the provider's configuration (0: not set); written when a provider
 * is initialised, read by every load. */
static long conf_kdf, conf_jceks, conf_entries;

/* A cap as text: 1 to INT_MAX, or 0 (ignored, traced) */
static long cap_value(const char *text, const char *name)
{
    char *end;
    long v;

    if (text == NULL || text[0] == '\0')
        return 0;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > INT_MAX) {
        km_trace("%s=%s: not a number from 1 to %d; the default stays", name, text, INT_MAX);
        return 0;
    }
    return v;
}

static long cap(const char *env, long *configured, long dflt)
{
    long v = cap_value(getenv(env), env);

    if (v == 0)
        v = __atomic_load_n(configured, __ATOMIC_RELAXED);
    return v != 0 ? v : dflt;
}

long km_cap_kdf_iterations(void)
{
    return cap(KAFKA_MTLS_ENV_MAX_KDF_ITERATIONS, &conf_kdf, KM_CAP_KDF_ITERATIONS);
}

long km_cap_jceks_iterations(void)
{
    return cap(KAFKA_MTLS_ENV_MAX_JCEKS_ITERATIONS, &conf_jceks, KM_CAP_JCEKS_ITERATIONS);
}

long km_cap_entries(void)
{
    return cap(KAFKA_MTLS_ENV_MAX_ENTRIES, &conf_entries, KM_CAP_ENTRIES);
}

void km_caps_configure(const char *kdf_iterations, const char *jceks_iterations, const char *entries)
{
    long v;

    if ((v = cap_value(kdf_iterations, KAFKA_MTLS_CONF_MAX_KDF_ITERATIONS)) != 0)
        __atomic_store_n(&conf_kdf, v, __ATOMIC_RELAXED);
    if ((v = cap_value(jceks_iterations, KAFKA_MTLS_CONF_MAX_JCEKS_ITERATIONS)) != 0)
        __atomic_store_n(&conf_jceks, v, __ATOMIC_RELAXED);
    if ((v = cap_value(entries, KAFKA_MTLS_CONF_MAX_ENTRIES)) != 0)
        __atomic_store_n(&conf_entries, v, __ATOMIC_RELAXED);
}

long km_kdf_iterations(const X509_ALGOR *alg)
{
    const ASN1_OBJECT *oid;
    const void *pval;
    int ptype;
    long iter = 0;

    if (alg == NULL)
        return 0;
    X509_ALGOR_get0(&oid, &ptype, &pval, alg);
    if (ptype != V_ASN1_SEQUENCE)
        return 0;
    if (OBJ_obj2nid(oid) == NID_pbes2) {
        PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);

        if (pbe2 == NULL)
            return 0;
        if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_scrypt) {
            /* scrypt's work is N * r * p block mixes; one costs about three
             * quarters of a PBKDF2-HMAC-SHA256 iteration (measured), so it
             * counts as that: OpenSSL's default N=16384, r=8, p=1 is 98,304 */
            SCRYPT_PARAMS *sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS),
                                                          pbe2->keyfunc->parameter);
            uint64_t n = 0, r = 0, p = 0;

            if (sp == NULL || !ASN1_INTEGER_get_uint64(&n, sp->costParameter) ||
                !ASN1_INTEGER_get_uint64(&r, sp->blockSize) ||
                !ASN1_INTEGER_get_uint64(&p, sp->parallelizationParameter))
                iter = -1;
            else if (n > (uint64_t)LONG_MAX / 4 / (r ? r : 1) / (p ? p : 1))
                iter = LONG_MAX;
            else
                iter = (long)(n * r * p / 4 * 3);
            SCRYPT_PARAMS_free(sp);
        } else if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
            PBKDF2PARAM *kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
                                                         pbe2->keyfunc->parameter);
            if (kdf != NULL)
                iter = ASN1_INTEGER_get(kdf->iter);
            PBKDF2PARAM_free(kdf);
        }
        PBE2PARAM_free(pbe2);
        return iter;
    }
    {
        PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);

        if (pbe != NULL)
            iter = ASN1_INTEGER_get(pbe->iter);
        PBEPARAM_free(pbe);
    }
    return iter;
}

int km_kdf_allowed(long iter, const char *what, const char *path, km_status *st)
{
    long max = km_cap_kdf_iterations();

    if (iter >= 0 && iter <= max)
        return 1;
    return km_fail(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                   "%s: the %s asks for %ld key derivation iterations, more than the %ld allowed (keytool "
                   "writes 10000; raise the cap with %s or the provider's %s)", path, what, iter, max,
                   KAFKA_MTLS_ENV_MAX_KDF_ITERATIONS, KAFKA_MTLS_CONF_MAX_KDF_ITERATIONS);
}

int km_entries_allowed(long entries, const char *format, const char *path, km_status *st)
{
    long max = km_cap_entries();

    if (entries <= max)
        return 1;
    return km_fail(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                   "%s: the %s store holds %ld entries or more, more than the %ld a store may hold (a client's "
                   "holds a few; raise the cap with %s or the provider's %s)", path, format, entries, max,
                   KAFKA_MTLS_ENV_MAX_ENTRIES, KAFKA_MTLS_CONF_MAX_ENTRIES);
}
