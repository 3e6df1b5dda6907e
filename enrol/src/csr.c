/* The certificate request step-ca wants: the key and the token's subject
 * CN, nothing else (the service takes O, C and the SANs from its own
 * configuration and the token). */
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "fail.h"

/* X.520's upper bound for a common name. */
#define CN_MAX 64

km_enrol_reason km_enrol_csr_new(EVP_PKEY *key, const char *common_name,
                                 X509_REQ **csr, char *err, size_t n)
{
    X509_REQ *req = NULL;
    const EVP_MD *md;
    char cause[256];
    size_t len;

    if (csr != NULL)
        *csr = NULL;
    if (key == NULL || common_name == NULL || csr == NULL)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT, "km_enrol_csr_new: a NULL argument");
    len = strlen(common_name);
    if (len == 0 || len > CN_MAX)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "the common name must have 1 to %d characters (it has %zu)", CN_MAX, len);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)common_name[i] < 0x20 || common_name[i] == 0x7f)
            return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                            "the common name has a control character at %zu", i);
    /* Ed25519 and Ed448 sign the message itself, with no digest. */
    md = EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448") ? NULL : EVP_sha256();
    ERR_set_mark();
    if ((req = X509_REQ_new()) == NULL || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
        !X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                                    (const unsigned char *)common_name, -1, -1, 0) ||
        !X509_REQ_set_pubkey(req, key) || X509_REQ_sign(req, key, md) <= 0) {
        kme_fail(err, n, KM_ENROL_BAD_ARGUMENT, "cannot make a certificate request for CN=%s: %s",
                 common_name, kme_crypto_cause(cause, sizeof(cause)));
        ERR_pop_to_mark();
        X509_REQ_free(req);
        return KM_ENROL_BAD_ARGUMENT;
    }
    ERR_pop_to_mark();
    *csr = req;
    return kme_fail(err, n, KM_ENROL_OK, "%s", "");
}
