/* The loadable module's only exported symbol (see provider.map). */
#include <openssl/core.h>

#include "kmtls/provider.h"

__attribute__((visibility("default")))
int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    return kmtls_provider_init(handle, in, out, provctx);
}
