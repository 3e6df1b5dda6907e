/* Reading the key material through the provider, as PEM for librdkafka. */
#ifndef KMTLS_KEYSOURCE_H
#define KMTLS_KEYSOURCE_H

#include <stddef.h>
#include <openssl/types.h>

#include "pem_bundle.h"
#include "settings.h"

/*
 * Loads key, chain and trusted certificates from the configured source,
 * waiting up to wait_ms for a volume that is not ready (unless no_wait).
 * Returns 1, or 0 with errstr naming the property, file and cause and
 * *reason the provider's kafka_mtls_reason (0 if not the provider's).
 */
int km_keysource_load(const km_settings *s, int no_wait, km_pem_bundle *out, int *reason,
                      char *errstr, size_t errstr_size);

/* 1 once the provider is loaded in the library context the plugin reads
 * and issues in (kmtls_libctx_default, once, for the process), 0 if it
 * cannot be. */
int km_keysource_ready(void);
/* That context: the application's global default (kmtls_libctx_default),
 * or NULL if the provider could not be loaded there. */
OSSL_LIB_CTX *km_keysource_libctx(void);

#endif
