/*
 * The decoded-but-not-decrypted view of one keystore file, which the
 * format readers fill and the assembly of a load consumes. Private keys
 * stay encrypted until a caller asks for the key, so reading certificates
 * never pays for key decryption.
 */
#ifndef KMTLS_KEYSTORE_H
#define KMTLS_KEYSTORE_H

#include <stddef.h>
#include <openssl/types.h>
#include <openssl/x509.h>

#include "kmtls/sniff.h"
#include "kmtls/status.h"

typedef enum km_key_kind {
    KM_KEY_PKCS8,    /* blob: PrivateKeyInfo DER, not encrypted */
    KM_KEY_P12_BAG,  /* blob: PKCS#8 ShroudedKeyBag (EncryptedPrivateKeyInfo) DER */
    KM_KEY_JKS,      /* blob: EncryptedPrivateKeyInfo, Sun JKS key protector */
    KM_KEY_JCEKS,    /* blob: EncryptedPrivateKeyInfo, PBEWithMD5AndTripleDES */
    KM_KEY_PEM       /* blob: PEM text of the key (maybe encrypted) */
} km_key_kind;

/*
 * Certificates as they were read: DER, checked to have a certificate's
 * outer shape, decoded only to compare a subject (a subject search) or a
 * key the quick way cannot (key_match.c). OSSL_STORE decodes every
 * certificate it hands out, and in OpenSSL 3.0 a decode costs about 0.2 ms
 * (most of it setting up the public key's decoders): decoding them here too
 * would double what a keystore and a truststore cost to read.
 */
typedef struct km_der {
    unsigned char *der;
    size_t len;
} km_der;

typedef struct km_ders {
    km_der *v;
    size_t n;
} km_ders;

/* Appends a copy of der; km_ders_add_x509 appends x's encoding. 1, or 0 on OOM. */
int km_ders_add(km_ders *d, const unsigned char *der, size_t len);
int km_ders_add_x509(km_ders *d, X509 *x);
int km_ders_has(const km_ders *d, const km_der *c);
void km_ders_clear(km_ders *d);
/* 1 when der is exactly one well-formed DER SEQUENCE of a SEQUENCE, a
 * SEQUENCE and a BIT STRING: a certificate's outside, as libcrypto parses
 * it. What is inside is OSSL_STORE's decode to judge (store.c). */
int km_der_is_certificate_shaped(const unsigned char *der, size_t len);
/* c decoded in libctx, or NULL. */
X509 *km_der_x509(OSSL_LIB_CTX *libctx, const km_der *c);

typedef struct km_key_entry {
    char *alias;              /* UTF-8, may be NULL (PEM) */
    km_key_kind kind;
    unsigned char *blob;      /* encrypted key, see kind; cleansed on free */
    size_t blob_len;
    km_ders chain;            /* leaf first, then issuers in order */
} km_key_entry;

typedef struct km_keystore {
    const char *path;         /* borrowed: for messages */
    km_format format;         /* set by the reader that accepted the file */
    km_key_entry *keys;
    size_t nkeys;
    km_ders trusted;          /* trusted certificate entries, as read */
} km_keystore;


km_keystore *km_keystore_new(const char *path);
void km_keystore_free(km_keystore *ks);
/* Appends a key entry; takes ownership of alias, blob and, when not NULL,
 * the certificates in chain (leaving it empty). NULL on OOM. */
km_key_entry *km_keystore_add_key(km_keystore *ks, char *alias, km_key_kind kind,
                                  unsigned char *blob, size_t blob_len,
                                  km_ders *chain);

/* A decrypted key as what the store hands out: PrivateKeyInfo DER in *der
 * (cleanse-free with OPENSSL_clear_free(*der, *der_len)). 1, or 0 with st
 * set (ks names the file). */
int km_key_der(const PKCS8_PRIV_KEY_INFO *p8, const km_keystore *ks, unsigned char **der, size_t *der_len,
               km_status *st);

#endif
