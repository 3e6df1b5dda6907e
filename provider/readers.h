/*
 * The format readers, one pair per format (formats.c puts them in a
 * table). read parses buf (the whole file) into ks, verifying the store's
 * integrity with password (PKCS#12 MAC, JKS/JCEKS trailer) and leaving
 * private keys encrypted; password may be NULL where the format needs
 * none (PEM). decrypt turns one of ks's key entries into PrivateKeyInfo
 * DER (*der, cleanse-free with OPENSSL_clear_free(*der, *der_len)). Each
 * returns 1, or 0 with st set, and leaves libcrypto's error queue as it
 * found it.
 */
#ifndef KMTLS_READERS_H
#define KMTLS_READERS_H

#include <stddef.h>
#include <openssl/types.h>

#include "keystore.h"
#include "kmtls/secret.h"
#include "kmtls/status.h"

int km_read_pkcs12(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                   const km_secret *password, km_keystore *ks, km_status *st);
int km_decrypt_p12_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len, km_status *st);

int km_read_jks(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                const km_secret *password, km_keystore *ks, km_status *st);
int km_decrypt_jks_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len, km_status *st);

int km_read_pem(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                const km_secret *password, km_keystore *ks, km_status *st);
int km_decrypt_pem_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len, km_status *st);

#endif
