/* OpenSSL helpers shared by the unit tests: see testutil_ossl.h. */
#include "testutil_ossl.h"

#include <check.h>
#include <stdio.h>
#include <openssl/pem.h>

#include "kafka-mtls.h"
#include "provider.h"

void tu_libctx_setup(OSSL_LIB_CTX **libctx, OSSL_PROVIDER **ours, OSSL_PROVIDER **dflt)
{
    ck_assert_ptr_nonnull(*libctx = OSSL_LIB_CTX_new());
    ck_assert_int_eq(OSSL_PROVIDER_add_builtin(*libctx, KAFKA_MTLS_PROVIDER_NAME, kmtls_provider_init), 1);
    ck_assert_ptr_nonnull(*ours = OSSL_PROVIDER_load(*libctx, KAFKA_MTLS_PROVIDER_NAME));
    ck_assert_ptr_nonnull(*dflt = OSSL_PROVIDER_load(*libctx, "default"));
}

void tu_libctx_teardown(OSSL_LIB_CTX *libctx, OSSL_PROVIDER *ours, OSSL_PROVIDER *dflt)
{
    OSSL_PROVIDER_unload(ours);
    OSSL_PROVIDER_unload(dflt);
    OSSL_LIB_CTX_free(libctx);
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
