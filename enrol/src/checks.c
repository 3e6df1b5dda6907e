/* Never trusting the service blindly: what it issued is checked against
 * what we asked for before anyone may use it. */
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "checks.h"
#include "fail.h"
#include "kmtls/x509.h"

/* 1 when a and b have the same subjectAltName extension, byte for byte
 * (or neither has one). */
static int same_sans(X509 *a, X509 *b)
{
    int ia = X509_get_ext_by_NID(a, NID_subject_alt_name, -1);
    int ib = X509_get_ext_by_NID(b, NID_subject_alt_name, -1);

    if (ia < 0 || ib < 0)
        return ia < 0 && ib < 0;
    return ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(X509_get_ext(a, ia)),
                                 X509_EXTENSION_get_data(X509_get_ext(b, ib))) == 0;
}

static int same_subject(X509 *a, X509 *b)
{
    const unsigned char *da, *db;
    size_t la, lb;

    if (!X509_NAME_get0_der(X509_get_subject_name(a), &da, &la) ||
        !X509_NAME_get0_der(X509_get_subject_name(b), &db, &lb))
        return 0;
    return la == lb && memcmp(da, db, la) == 0;
}

static km_enrol_reason identity(X509 *leaf, const kme_expect *e, char *err, size_t n)
{
    char cn[256];

    if (e->common_name != NULL &&
        (!km_name_only_cn(X509_get_subject_name(leaf), cn, sizeof(cn)) || strcmp(cn, e->common_name) != 0))
        return kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                        "the certificate's subject does not have the one common name '%s' "
                        "that the request asked for", e->common_name);
    if (e->same_identity != NULL && !same_subject(leaf, e->same_identity))
        return kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                        "the new certificate's subject is not the current certificate's");
    if (e->same_identity != NULL && !same_sans(leaf, e->same_identity))
        return kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                        "the new certificate's subjectAltNames are not the current certificate's");
    return KM_ENROL_OK;
}

static km_enrol_reason verify(STACK_OF(X509) *chain, const kme_expect *e, char *err, size_t n)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_dup(chain);
    km_enrol_reason r = KM_ENROL_INTERNAL;
    int why;

    if (ctx == NULL || untrusted == NULL) {
        kme_fail(err, n, r, "out of memory");
        goto done;
    }
    (void)sk_X509_shift(untrusted);  /* the leaf is the target, not a candidate */
    if (!X509_STORE_CTX_init(ctx, e->roots, sk_X509_value(chain, 0), untrusted)) {
        kme_fail(err, n, r, "out of memory");
        goto done;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
    if (X509_verify_cert(ctx) != 1) {
        why = X509_STORE_CTX_get_error(ctx);
        r = kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                     "the issued chain does not verify against %s: %s (depth %d)",
                     e->roots_file, X509_verify_cert_error_string(why),
                     X509_STORE_CTX_get_error_depth(ctx));
        goto done;
    }
    r = KM_ENROL_OK;
done:
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    return r;
}

km_enrol_reason kme_check_chain(STACK_OF(X509) *chain, const kme_expect *e,
                                char *err, size_t n)
{
    X509 *leaf = sk_X509_value(chain, 0);
    km_enrol_reason r;
    uint32_t flags;

    ERR_set_mark();
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), e->key) != 1) {
        r = kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                     "the certificate does not certify the requested public key");
        goto done;
    }
    flags = X509_get_extension_flags(leaf);
    if (flags & EXFLAG_INVALID) {
        r = kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "the certificate has invalid extensions");
        goto done;
    }
    if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT)) {
        r = kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                     "the certificate is not for TLS clients (no extendedKeyUsage clientAuth)");
        goto done;
    }
    if (X509_check_ca(leaf) != 0) {
        r = kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "the certificate is a CA certificate");
        goto done;
    }
    for (int i = 0; i < sk_X509_num(chain); i++)
        if (km_cert_validity(sk_X509_value(chain, i), time(NULL)) == KM_VALID_EXPIRED) {
            r = kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "certChain[%d] has expired", i);
            goto done;
        }
    if ((r = identity(leaf, e, err, n)) != KM_ENROL_OK)
        goto done;
    r = verify(chain, e, err, n);
done:
    ERR_pop_to_mark();
    return r;
}
