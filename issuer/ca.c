/*
 * The signing CA: its certificate and key (PEM, the key possibly encrypted,
 * as the seed's ca.key is), checked before anything is issued with them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "issue_internal.h"
#include "kafka-mtls.h"
#include "kmtls/files.h"
#include "kmtls/pem.h"
#include "kmtls/x509.h"

STACK_OF(X509) *km_read_certs_pem(OSSL_LIB_CTX *libctx, const char *path, const char *what, km_status *st)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    STACK_OF(X509) *certs;

    if (!km_read_file_at(AT_FDCWD, path, path, what, KM_CA_MAX_FILE, 0, &buf, &len, st))
        return NULL;
    certs = km_pem_certs(libctx, buf, len, NULL);
    OPENSSL_free(buf);
    if (sk_X509_num(certs) <= 0) {
        if (certs != NULL)
            km_fail(st, KAFKA_MTLS_R_CORRUPT, "%s %s: no PEM certificate in it", what, path);
        else
            km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        sk_X509_free(certs);
        certs = NULL;
    }
    return certs;
}

X509 *km_read_cert_pem(OSSL_LIB_CTX *libctx, const char *path, const char *what, km_status *st)
{
    STACK_OF(X509) *certs = km_read_certs_pem(libctx, path, what, st);
    X509 *x = certs != NULL ? sk_X509_shift(certs) : NULL;

    sk_X509_pop_free(certs, X509_free);
    return x;
}

/* The key is judged (ca_files.c) by the descriptor it is read through. */
static EVP_PKEY *read_key(const km_issue_request *rq, char *warning, size_t n, km_status *st)
{
    OSSL_LIB_CTX *libctx = rq->libctx;
    const char *path = rq->ca_key, *password = rq->ca_key_password;
    unsigned char *buf = NULL;
    size_t len = 0;
    int asked = 0;
    EVP_PKEY *key;

    if (!km_ca_file_read(path, "CA key", KM_CA_MAX_FILE, rq->ca_key_insecure_ok, rq->ca_key_insecure_option, &buf,
                         &len, warning, n, st))
        return NULL;
    ERR_set_mark();
    key = km_pem_private_key(libctx, buf, len, password, password != NULL ? strlen(password) : 0, &asked);
    ERR_pop_to_mark();
    if (key == NULL) {
        if (asked && password == NULL)
            km_fail(st, KAFKA_MTLS_R_NO_PASSWORD,
                    "CA key %s is encrypted and no CA key password was given", path);
        else if (asked)
            km_fail(st, KAFKA_MTLS_R_WRONG_PASSWORD,
                    "CA key %s: the CA key password does not decrypt it", path);
        else
            km_fail(st, KAFKA_MTLS_R_CORRUPT, "CA key %s: no PEM private key in it", path);
    }
    OPENSSL_clear_free(buf, len + 1);
    return key;
}

static void subject_of(const X509 *x, char *buf, size_t n)
{
    X509_NAME_oneline(X509_get_subject_name(x), buf, (int)n);
}

static int check_ca(const char *path, X509 *ca, time_t now, km_status *st)
{
    char subject[256];

    subject_of(ca, subject, sizeof(subject));
    if (X509_check_ca(ca) == 0)
        return km_fail(st, KAFKA_MTLS_R_CA_REFUSED,
                       "CA certificate %s (%s) is not a CA certificate (no basicConstraints CA:TRUE, "
                       "or keyUsage without keyCertSign)", path, subject);
    if (km_cert_validity(ca, now) == KM_VALID_EXPIRED) {
        char when[64];

        km_time_text(X509_get0_notAfter(ca), when, sizeof(when));
        return km_fail(st, KAFKA_MTLS_R_CA_REFUSED, "CA certificate %s (%s) expired on %s", path, subject,
                       when[0] != '\0' ? when : "?");
    }
    if (km_cert_validity(ca, now) == KM_VALID_NOT_YET)
        return km_fail(st, KAFKA_MTLS_R_CA_REFUSED, "CA certificate %s (%s) is not valid yet", path, subject);
    return 1;
}

/* The rest of the CA file must be the issuing CA's chain, in order. */
static int check_chain(const char *path, const km_ca *ca, km_status *st)
{
    const X509 *child = ca->cert;

    for (int i = 0; i < sk_X509_num(ca->chain); i++) {
        X509 *parent = sk_X509_value(ca->chain, i);
        char subject[256];

        if (X509_check_issued(parent, (X509 *)child) != X509_V_OK || X509_check_ca(parent) == 0) {
            subject_of(parent, subject, sizeof(subject));
            return km_fail(st, KAFKA_MTLS_R_CA_REFUSED,
                           "CA certificate %s: certificate %d (%s) is not the issuer of the one before it; "
                           "the file must hold the issuing CA first, then its chain up to the root", path,
                           i + 2, subject);
        }
        child = parent;
    }
    return 1;
}

int km_ca_load(const km_issue_request *rq, time_t now, km_ca *ca, char *warning, size_t n, km_status *st)
{
    OSSL_LIB_CTX *libctx = rq->libctx;
    const char *cert_path = rq->ca_cert, *key_path = rq->ca_key;

    memset(ca, 0, sizeof(*ca));
    if (cert_path == NULL || key_path == NULL)
        return km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "a CA certificate and a CA key are both needed");
    if ((ca->chain = km_read_certs_pem(libctx, cert_path, "CA certificate", st)) == NULL)
        goto fail;
    ca->cert = sk_X509_shift(ca->chain);
    ca->anchor = sk_X509_num(ca->chain) > 0 ? sk_X509_value(ca->chain, sk_X509_num(ca->chain) - 1) : ca->cert;
    if (!check_ca(cert_path, ca->cert, now, st) || !check_chain(cert_path, ca, st) ||
        (ca->key = read_key(rq, warning, n, st)) == NULL)
        goto fail;
    ERR_set_mark();
    if (!X509_check_private_key(ca->cert, ca->key)) {
        ERR_pop_to_mark();
        km_fail(st, KAFKA_MTLS_R_CA_REFUSED, "CA key %s does not match the CA certificate %s",
                key_path, cert_path);
        goto fail;
    }
    ERR_pop_to_mark();
    return 1;
fail:
    km_ca_clear(ca);
    return 0;
}

void km_ca_clear(km_ca *ca)
{
    X509_free(ca->cert);
    sk_X509_pop_free(ca->chain, X509_free);
    EVP_PKEY_free(ca->key);
    memset(ca, 0, sizeof(*ca));
}
