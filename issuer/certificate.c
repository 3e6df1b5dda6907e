/*
 * The leaf certificate: X.509 v3, a 128-bit random positive serial, issuer
 * = the CA's subject, notBefore = now - KAFKA_MTLS_BACKDATE_SECONDS (clock
 * skew; a twelfth of a shorter lifetime), notAfter = now + days or seconds
 * (never after the CA's own notAfter),
 * basicConstraints=critical,CA:FALSE, keyUsage=critical,digitalSignature
 * (+keyEncipherment for RSA), extendedKeyUsage, SKI (hash), AKI (keyid),
 * subjectAltName when given; signed by the CA with SHA-256 (Ed25519/Ed448
 * CAs sign without a separate digest).
 */
#include <string.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "issue_internal.h"
#include "kafka-mtls.h"

static int set_serial(OSSL_LIB_CTX *libctx, X509 *x)
{
    BN_CTX *bctx = BN_CTX_new_ex(libctx);
    BIGNUM *bn = BN_new();
    ASN1_INTEGER *serial = NULL;
    int ok;

    /* exactly 128 bits (top bit set), hence positive and 17 DER octets */
    ok = bctx != NULL && bn != NULL && BN_rand_ex(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY, 0, bctx) &&
         (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL && X509_set_serialNumber(x, serial);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    BN_CTX_free(bctx);
    return ok;
}

static int set_validity(X509 *x, const X509 *ca, const km_cert_spec *spec, int *clamped)
{
    time_t now = spec->now;
    long life = spec->seconds > 0 ? spec->seconds : spec->days * 86400L;
    long back = life / 12 < KAFKA_MTLS_BACKDATE_SECONDS ? life / 12 : KAFKA_MTLS_BACKDATE_SECONDS;
    ASN1_TIME *nb = ASN1_TIME_adj(NULL, now, 0, -back);
    ASN1_TIME *na = spec->seconds > 0 ? ASN1_TIME_adj(NULL, now, (int)(spec->seconds / 86400), spec->seconds % 86400)
                                      : ASN1_TIME_adj(NULL, now, spec->days, 0);
    int ok = nb != NULL && na != NULL;

    *clamped = 0;
    if (ok && ASN1_TIME_compare(na, X509_get0_notAfter(ca)) > 0) {
        *clamped = 1;
        ASN1_TIME_free(na);
        na = ASN1_STRING_dup(X509_get0_notAfter(ca));
        ok = na != NULL;
    }
    if (ok && ASN1_TIME_compare(nb, X509_get0_notBefore(ca)) < 0) {
        /* a certificate cannot predate its issuer */
        ASN1_TIME_free(nb);
        nb = ASN1_STRING_dup(X509_get0_notBefore(ca));
        ok = nb != NULL;
    }
    ok = ok && X509_set1_notBefore(x, nb) && X509_set1_notAfter(x, na);
    ASN1_TIME_free(nb);
    ASN1_TIME_free(na);
    return ok;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1);

    X509_EXTENSION_free(ext);
    return ok;
}

static int add_extensions(X509 *x, const km_ca *ca, EVP_PKEY *key, const km_cert_spec *spec)
{
    X509V3_CTX ctx;
    int rsa = EVP_PKEY_is_a(key, "RSA");

    X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
    /* AKI from the CA's key when its certificate carries no SKI */
    if (!X509V3_set_issuer_pkey(&ctx, ca->key))
        return 0;
    return add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
           add_ext(x, &ctx, NID_key_usage,
                   rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature") &&
           add_ext(x, &ctx, NID_ext_key_usage, spec->eku) &&
           add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
           add_ext(x, &ctx, NID_authority_key_identifier, "keyid") &&
           (spec->san == NULL || X509_add1_ext_i2d(x, NID_subject_alt_name, (void *)spec->san, 0, 0) > 0);
}

static int sign(OSSL_LIB_CTX *libctx, X509 *x, EVP_PKEY *ca_key)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    /* EdDSA signs the message itself: no separate digest */
    const char *md = EVP_PKEY_is_a(ca_key, "ED25519") || EVP_PKEY_is_a(ca_key, "ED448") ? NULL : "SHA256";
    int ok = mctx != NULL && EVP_DigestSignInit_ex(mctx, NULL, md, libctx, NULL, ca_key, NULL) > 0 &&
             X509_sign_ctx(x, mctx) > 0;

    EVP_MD_CTX_free(mctx);
    return ok;
}

X509 *km_cert_build(OSSL_LIB_CTX *libctx, const km_ca *ca, EVP_PKEY *key, const km_cert_spec *spec,
                    int *clamped, km_status *st)
{
    X509 *x = X509_new_ex(libctx, NULL);
    const char *step = "out of memory";

    ERR_set_mark();
    if (x == NULL || !X509_set_version(x, X509_VERSION_3) || !set_serial(libctx, x))
        goto fail;
    step = "cannot set the certificate's names or validity";
    if (!X509_set_subject_name(x, spec->subject) ||
        !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
        !set_validity(x, ca->cert, spec, clamped) || !X509_set_pubkey(x, key))
        goto fail;
    step = "cannot build the certificate's extensions";
    if (!add_extensions(x, ca, key, spec))
        goto fail;
    step = "the CA key cannot sign the certificate";
    if (!sign(libctx, x, ca->key))
        goto fail;
    ERR_pop_to_mark();
    return x;
fail:
    km_fail_crypto(st, KAFKA_MTLS_R_INTERNAL, "issuing the certificate: %s", step);
    ERR_pop_to_mark();
    X509_free(x);
    return NULL;
}
