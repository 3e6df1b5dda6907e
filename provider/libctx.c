/* kmtls_libctx_new: the provider as a built-in, in a context of its own. */
#include <openssl/crypto.h>
#include <openssl/provider.h>

#include "kafka-mtls.h"
#include "kmtls/provider.h"

kmtls_libctx *kmtls_libctx_new(void)
{
    kmtls_libctx *lc = OPENSSL_zalloc(sizeof(*lc));

    if (lc == NULL)
        return NULL;
    if ((lc->libctx = OSSL_LIB_CTX_new()) == NULL ||
        !OSSL_PROVIDER_add_builtin(lc->libctx, KAFKA_MTLS_PROVIDER_NAME, kmtls_provider_init) ||
        (lc->kafka_mtls = OSSL_PROVIDER_load(lc->libctx, KAFKA_MTLS_PROVIDER_NAME)) == NULL ||
        (lc->dflt = OSSL_PROVIDER_load(lc->libctx, "default")) == NULL) {
        kmtls_libctx_free(lc);
        return NULL;
    }
    return lc;
}

void kmtls_libctx_free(kmtls_libctx *lc)
{
    if (lc == NULL)
        return;
    OSSL_PROVIDER_unload(lc->kafka_mtls);
    OSSL_PROVIDER_unload(lc->dflt);
    OSSL_LIB_CTX_free(lc->libctx);
    OPENSSL_free(lc);
}
