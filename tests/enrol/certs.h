/* Test certificates made in-process with libcrypto, at test time: a CA,
 * intermediates and leaves with exactly the properties a test needs (no
 * key or certificate is ever committed). */
#ifndef ENROL_TEST_CERTS_H
#define ENROL_TEST_CERTS_H

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct tc_spec {
    const char *subject;     /* "C=GB,O=UK Home Office,CN=x", in DER order */
    EVP_PKEY *key;           /* the subject's key */
    X509 *issuer;            /* NULL: self-signed with key */
    EVP_PKEY *issuer_key;
    int ca;                  /* basicConstraints CA:TRUE + keyCertSign */
    const char *eku;         /* e.g. "clientAuth"; NULL: no extension */
    const char *san;         /* e.g. "IP:127.0.0.1"; NULL: none */
    long not_before;         /* seconds from now */
    long not_after;          /* seconds from now */
} tc_spec;

/* "ec" (P-256) or "rsa" (2048). Aborts on failure (a test helper). */
EVP_PKEY *tc_key(const char *type);
X509 *tc_cert(const tc_spec *s);
/* PEM text of x (malloc'd). */
char *tc_pem(X509 *x);
/* Writes PEM of x (and key, when not NULL) to path; aborts on failure. */
void tc_write(const char *path, X509 *x, EVP_PKEY *key);

#endif
