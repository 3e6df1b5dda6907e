/* The key material as librdkafka takes it: PEM text, plus what the plugin
 * decides expiry on. */
#ifndef KMTLS_PEM_BUNDLE_H
#define KMTLS_PEM_BUNDLE_H

#include <stddef.h>
#include <openssl/types.h>

typedef struct km_pem_bundle {
    char *key;        /* PKCS#8 PEM, secret: in secure memory (kmtls/secure_mem.h), cleansed on clear */
    size_t key_len;
    char *leaf;       /* leaf certificate PEM */
    char *chain;      /* leaf + intermediates PEM; NULL when the leaf is all */
    char *trusted;    /* trusted CA certificates PEM; NULL when none */
    X509 *leaf_cert;  /* for expiry decisions */
    /* The same material decoded (references, not copies), for the SSL_CTX
     * the plugin builds itself under mtls.rotation=live: no second decode
     * of the PEM text above. */
    EVP_PKEY *pkey;
    STACK_OF(X509) *certs;   /* leaf first, then what is sent of its chain */
    STACK_OF(X509) *trust;   /* NULL when none */
    char subject[256];
    char not_after[32];
    /* the per-process cache entry it was read into or from (material_cache.h) */
    unsigned char cache_digest[32];
    int cached;
} km_pem_bundle;

/*
 * The bundle for key and its chain (leaf first) and the trusted
 * certificates. A self-signed root at the end of the chain is not sent:
 * the peer has it or the handshake fails anyway. 1, or 0 (out of memory;
 * out is then empty).
 */
int km_pem_bundle_make(EVP_PKEY *key, STACK_OF(X509) *chain, STACK_OF(X509) *trusted, km_pem_bundle *out);
/* A deep copy. 1, or 0 (out of memory; dst is then empty). */
int km_pem_bundle_copy(km_pem_bundle *dst, const km_pem_bundle *src);
void km_pem_bundle_clear(km_pem_bundle *b);

#endif
