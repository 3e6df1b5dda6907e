/* The checks on a call's arguments, made before anything is sent: a sign
 * request spends its token whatever step-ca answers (and step-ca spends it
 * before it reads the CSR or the lifetime), so whatever can be wrong
 * locally is refused here, with the token still good. */
#include <string.h>
#include <openssl/err.h>

#include "args.h"
#include "fail.h"

km_enrol_reason kme_check_service(const km_enrol_service *svc, long *timeout_ms,
                                  char *err, size_t n)
{
    if (svc == NULL || svc->url == NULL || svc->ca_file == NULL)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: the service needs a url and a ca_file");
    if (svc->timeout_ms < 0 || svc->timeout_ms > KM_ENROL_MAX_TIMEOUT_MS)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: timeout_ms %ld is out of range (0 for %ld, at most %ld)",
                        svc->timeout_ms, KM_ENROL_DEFAULT_TIMEOUT_MS, KM_ENROL_MAX_TIMEOUT_MS);
    *timeout_ms = svc->timeout_ms == 0 ? KM_ENROL_DEFAULT_TIMEOUT_MS : svc->timeout_ms;
    return KM_ENROL_OK;
}

/* A token is base64url parts joined by '.': anything else is not one, and
 * is refused before it is spent on a request that cannot succeed. */
int kme_token_ok(const char *t)
{
    size_t len = strlen(t);

    if (len == 0 || len > KME_TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

/* A Go duration as step-ca reads "notAfter" (duration.c). Checked here
 * because step-ca spends the token before it reads the lifetime. */
int kme_duration_ok(const char *s)
{
    return km_enrol_duration(s, NULL);
}

/* The CSR is signed by its own key and has one. */
km_enrol_reason kme_check_csr(X509_REQ *csr, char *err, size_t n)
{
    EVP_PKEY *key = X509_REQ_get0_pubkey(csr);
    int ok;

    ERR_set_mark();
    ok = key != NULL && X509_REQ_verify(csr, key) == 1;
    ERR_pop_to_mark();
    if (!ok)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: the certificate request's signature does not verify");
    return KM_ENROL_OK;
}

km_enrol_reason kme_load_roots(const char *file, const char *what, X509_STORE **out,
                               char *err, size_t n)
{
    X509_STORE *s = X509_STORE_new();
    STACK_OF(X509_OBJECT) *objs;
    int certs = 0;
    char cause[256];
    km_enrol_reason r = KM_ENROL_OK;

    *out = NULL;
    if (s == NULL)
        return kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
    ERR_set_mark();
    if (X509_STORE_load_file(s, file) != 1) {
        r = kme_fail(err, n, KM_ENROL_BAD_ARGUMENT, "kmtls-enrol: cannot load %s %s: %s", what,
                     file, kme_crypto_cause(cause, sizeof(cause)));
    } else {
        objs = X509_STORE_get0_objects(s);
        for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
            if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509)
                certs++;
        if (certs == 0)
            r = kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                         "kmtls-enrol: %s %s holds no certificate", what, file);
    }
    ERR_pop_to_mark();
    if (r != KM_ENROL_OK)
        X509_STORE_free(s);
    else
        *out = s;
    return r;
}

/* The current certificate and its key, for mutual TLS. */
km_enrol_reason kme_check_current(X509 *current, EVP_PKEY *key, char *err, size_t n)
{
    int ok;

    if (current == NULL || key == NULL)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: renewal needs the current certificate and its key");
    ERR_set_mark();
    ok = X509_check_private_key(current, key) == 1;
    ERR_pop_to_mark();
    if (!ok)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: the key given is not the current certificate's key");
    return KM_ENROL_OK;
}

