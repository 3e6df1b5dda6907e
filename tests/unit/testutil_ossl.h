/*
 * OpenSSL helpers shared by the provider's and the issuer's unit tests
 * (test_store, test_issue, test_jks); apart from testutil.h so that
 * test_plugin needs no libcrypto.
 */
#ifndef KMTLS_TESTUTIL_OSSL_H
#define KMTLS_TESTUTIL_OSSL_H

#include <openssl/provider.h>
#include <openssl/x509.h>

/* A private library context with the provider registered as a built-in
 * (as the interceptor does) and loaded, and the default provider beside it
 * for the algorithms; each pointer is stored as soon as it exists. */
void tu_libctx_setup(OSSL_LIB_CTX **libctx, OSSL_PROVIDER **ours, OSSL_PROVIDER **dflt);
void tu_libctx_teardown(OSSL_LIB_CTX *libctx, OSSL_PROVIDER *ours, OSSL_PROVIDER *dflt);

/* The first PEM certificate in path; asserts there is one. */
X509 *tu_read_pem_cert(const char *path);

#endif
