/* OpenSSL helpers shared by the unit tests: see testutil_ossl.h. */
#include "testutil_ossl.h"

#include <check.h>
#include <stdio.h>
#include <openssl/pem.h>

kmtls_libctx *tu_libctx_new(void)
{
    kmtls_libctx *lc = kmtls_libctx_new();

    ck_assert_msg(lc != NULL, "kmtls_libctx_new failed");
    return lc;
}

X509 *tu_read_pem_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_msg(x != NULL, "%s is not a PEM certificate", path);
    return x;
}
