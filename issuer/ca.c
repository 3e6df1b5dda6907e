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
#include "kmtls/x509.h"

typedef struct pw_arg {
    const char *password;
    int asked;
} pw_arg;

/* Never prompts: an encrypted key without a configured password fails. */
static int password_cb(char *buf, int size, int rwflag, void *u)
{
    pw_arg *a = u;
    size_t len;

    (void)rwflag;
    a->asked = 1;
    if (a->password == NULL)
        return -1;
    len = strlen(a->password);
    if (len > (size_t)size)
        return -1;
    memcpy(buf, a->password, len);
    return (int)len;
}

static BIO *read_pem_file(const char *path, const char *what, unsigned char **buf, size_t *len,
                          km_status *st)
{
    BIO *b;

    if (!km_read_file_at(AT_FDCWD, path, path, what, KM_CA_MAX_FILE, 0, buf, len, st))
        return NULL;
    if ((b = BIO_new_mem_buf(*buf, (int)*len)) == NULL) {
        OPENSSL_clear_free(*buf, *len + 1);
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    return b;
}

STACK_OF(X509) *km_read_certs_pem(OSSL_LIB_CTX *libctx, const char *path, const char *what, km_status *st)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    BIO *b = read_pem_file(path, what, &buf, &len, st);
    STACK_OF(X509) *certs = b != NULL ? sk_X509_new_null() : NULL;
    X509 *x;

    if (b == NULL)
        return NULL;
    ERR_set_mark();
    while (certs != NULL && (x = X509_new_ex(libctx, NULL)) != NULL) {
        if (PEM_read_bio_X509(b, &x, NULL, NULL) == NULL || !sk_X509_push(certs, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_pop_to_mark();
    if (sk_X509_num(certs) <= 0) {
        if (certs != NULL)
            km_fail(st, KAFKA_MTLS_R_CORRUPT, "%s %s: no PEM certificate in it", what, path);
        else
            km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        sk_X509_free(certs);
        certs = NULL;
    }
    BIO_free(b);
    OPENSSL_free(buf);
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
    pw_arg arg = { password, 0 };
    EVP_PKEY *key;
    BIO *b;

    if (!km_ca_file_read(path, "CA key", KM_CA_MAX_FILE, rq->ca_key_insecure_ok, rq->ca_key_insecure_option, &buf,
                         &len, warning, n, st))
        return NULL;
    if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
        OPENSSL_clear_free(buf, len + 1);
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        return NULL;
    }
    ERR_set_mark();
    key = PEM_read_bio_PrivateKey_ex(b, NULL, password_cb, &arg, libctx, NULL);
    ERR_pop_to_mark();
    if (key == NULL) {
        if (arg.asked && password == NULL)
            km_fail(st, KAFKA_MTLS_R_NO_PASSWORD,
                    "CA key %s is encrypted and no CA key password was given", path);
        else if (arg.asked)
            km_fail(st, KAFKA_MTLS_R_WRONG_PASSWORD,
                    "CA key %s: the CA key password does not decrypt it", path);
        else
            km_fail(st, KAFKA_MTLS_R_CORRUPT, "CA key %s: no PEM private key in it", path);
    }
    BIO_free(b);
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
    if (X509_cmp_time(X509_get0_notAfter(ca), &now) <= 0) {
        char when[64];

        km_time_text(X509_get0_notAfter(ca), when, sizeof(when));
        return km_fail(st, KAFKA_MTLS_R_CA_REFUSED, "CA certificate %s (%s) expired on %s", path, subject,
                       when[0] != '\0' ? when : "?");
    }
    if (X509_cmp_time(X509_get0_notBefore(ca), &now) > 0)
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
