/* kmtls_libctx_new and kmtls_libctx_default: the provider as a built-in,
 * in a context of its own or in the application's default one. */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "kafka-mtls.h"
#include "kmtls/provider.h"

kmtls_libctx *kmtls_libctx_new(void)
{
    kmtls_libctx *lc = OPENSSL_zalloc(sizeof(*lc));

    if (lc == NULL)
        return NULL;
    if ((lc->libctx = OSSL_LIB_CTX_new()) == NULL ||
        !OSSL_PROVIDER_add_builtin(lc->libctx, KAFKA_MTLS_PROVIDER_NAME, kmtls_provider_init_builtin) ||
        (lc->kafka_mtls = OSSL_PROVIDER_load(lc->libctx, KAFKA_MTLS_PROVIDER_NAME)) == NULL ||
        (lc->dflt = OSSL_PROVIDER_load(lc->libctx, "default")) == NULL) {
        kmtls_libctx_free(lc);
        return NULL;
    }
    return lc;
}

static kmtls_libctx default_ctx;
static CRYPTO_ONCE default_once = CRYPTO_ONCE_STATIC_INIT;

static void default_init(void)
{
    /* The global default by its address, not NULL: NULL means a thread's
     * own default where the application set one (OSSL_LIB_CTX_set0_default),
     * and the plugin reads from its own threads too. */
    OSSL_LIB_CTX *global = OSSL_LIB_CTX_get0_global_default();

    if (global == NULL)
        return;
    /* An application whose configuration already declares the provider
     * (the kafka-mtls.so module) has it by that name: adding the built-in
     * then fails, and loading finds the declared one. */
    ERR_set_mark();
    OSSL_PROVIDER_add_builtin(global, KAFKA_MTLS_PROVIDER_NAME, kmtls_provider_init_builtin);
    ERR_pop_to_mark();
    /* retain_fallbacks: the default provider still comes up by itself
     * for an application that loaded no provider of its own */
    default_ctx.libctx = global;
    default_ctx.kafka_mtls = OSSL_PROVIDER_try_load(global, KAFKA_MTLS_PROVIDER_NAME, 1);
}

const kmtls_libctx *kmtls_libctx_default(void)
{
    if (!CRYPTO_THREAD_run_once(&default_once, default_init) || default_ctx.kafka_mtls == NULL)
        return NULL;
    return &default_ctx;
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
