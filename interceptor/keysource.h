/* Reading the key material through the provider, as PEM for librdkafka. */
#ifndef KMTLS_KEYSOURCE_H
#define KMTLS_KEYSOURCE_H

#include <stddef.h>
#include "settings.h"

typedef struct km_pem_bundle {
    char *key;        /* PKCS#8 PEM, secret: cleansed on clear */
    size_t key_len;
    char *leaf;       /* leaf certificate PEM */
    char *chain;      /* leaf + intermediates PEM; NULL when the leaf is all */
    char *trusted;    /* trusted CA certificates PEM; NULL when none */
    char subject[256];
    char not_after[32];
} km_pem_bundle;

/*
 * Loads key, chain and trusted certificates from the configured source,
 * waiting up to wait_ms for a volume that is not ready. Returns 1, or 0
 * with errstr naming the property, file and cause.
 */
int km_keysource_load(const km_settings *s, km_pem_bundle *out, char *errstr, size_t errstr_size);
void km_pem_bundle_clear(km_pem_bundle *b);

#endif
