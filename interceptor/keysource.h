/* Reading the key material through the provider, as PEM for librdkafka. */
#ifndef KMTLS_KEYSOURCE_H
#define KMTLS_KEYSOURCE_H

#include <stddef.h>
#include <openssl/types.h>
#include "settings.h"

typedef struct km_pem_bundle {
    char *key;        /* PKCS#8 PEM, secret: cleansed on clear */
    size_t key_len;
    char *leaf;       /* leaf certificate PEM */
    char *chain;      /* leaf + intermediates PEM; NULL when the leaf is all */
    char *trusted;    /* trusted CA certificates PEM; NULL when none */
    X509 *leaf_cert;  /* for expiry decisions */
    char subject[256];
    char not_after[32];
} km_pem_bundle;

/*
 * Loads key, chain and trusted certificates from the configured source,
 * waiting up to wait_ms for a volume that is not ready (unless no_wait).
 * Returns 1, or 0 with errstr naming the property, file and cause and
 * *reason the provider's kafka_mtls_reason (0 if not the provider's).
 */
int km_keysource_load(const km_settings *s, int no_wait, km_pem_bundle *out, int *reason,
                      char *errstr, size_t errstr_size);

/* The private library context holding the built-in provider and default. */
OSSL_LIB_CTX *km_keysource_libctx(void);
void km_pem_bundle_clear(km_pem_bundle *b);

#endif
