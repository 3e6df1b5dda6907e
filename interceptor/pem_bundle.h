/* The key material read for a client: the decoded key and certificates
 * (what the plugin's own SSL_CTX takes under mtls.rotation=live), what
 * expiry is decided on, and, made only when librdkafka takes the material
 * (mtls.rotation=restart), the same as PEM text. */
#ifndef KMTLS_PEM_BUNDLE_H
#define KMTLS_PEM_BUNDLE_H

#include <stddef.h>
#include <openssl/types.h>

typedef struct km_pem_bundle {
    EVP_PKEY *pkey;
    STACK_OF(X509) *certs;   /* leaf first, then what is sent of its chain */
    STACK_OF(X509) *trust;   /* NULL when none */
    X509 *leaf_cert;         /* for expiry decisions */
    /* The PEM text of the above, NULL until km_pem_bundle_text(): in
     * OpenSSL 3.0 encoding the key builds an encoder chain (0.5 ms of a
     * client's start-up), so a client that never hands PEM to librdkafka
     * never makes it. */
    char *key;        /* PKCS#8 PEM, secret: in secure memory (kmtls/secure_mem.h), cleansed on clear */
    size_t key_len;
    char *leaf;       /* leaf certificate PEM */
    char *chain;      /* leaf + intermediates PEM; NULL when the leaf is all */
    char *trusted;    /* trusted CA certificates PEM; NULL when none */
    char subject[256];
    char not_after[32];
    /* the per-process cache entry it was read into or from (material_cache.h) */
    unsigned char cache_digest[32];
    int cached;
} km_pem_bundle;

/*
 * The bundle for key and its chain (leaf first) and the trusted
 * certificates, without its PEM text. A self-signed root at the end of
 * the chain is not sent: the peer has it or the handshake fails anyway.
 * 1, or 0 (out of memory; out is then empty).
 */
int km_pem_bundle_make(EVP_PKEY *key, STACK_OF(X509) *chain, STACK_OF(X509) *trusted, km_pem_bundle *out);
/* Adds the PEM text (key, leaf, chain, trusted) unless it is there. 1, or
 * 0 (out of memory; the text is then absent, the rest kept). */
int km_pem_bundle_text(km_pem_bundle *b);
/* 1 when a and b hold the same key, chain and trusted CAs. */
int km_pem_bundle_same(const km_pem_bundle *a, const km_pem_bundle *b);
/* A deep copy (the text only when src has it). 1, or 0 (out of memory;
 * dst is then empty). */
int km_pem_bundle_copy(km_pem_bundle *dst, const km_pem_bundle *src);
void km_pem_bundle_clear(km_pem_bundle *b);

#endif
