/*
 * OpenSSL helpers shared by the provider's and the issuer's unit tests
 * (test_store, test_issue, test_jks); apart from testutil.h so that
 * test_plugin needs no libcrypto.
 */
#ifndef KMTLS_TESTUTIL_OSSL_H
#define KMTLS_TESTUTIL_OSSL_H

#include <openssl/x509.h>

#include "kmtls/provider.h"

/* kmtls_libctx_new (the private library context the command uses; the
 * plugin's provider is the same built-in in the application's default
 * context, tests/unit/test_plugin_openssl.c); asserts it is made. */
kmtls_libctx *tu_libctx_new(void);

/* The first PEM certificate in path; asserts there is one. */
X509 *tu_read_pem_cert(const char *path);

#endif
