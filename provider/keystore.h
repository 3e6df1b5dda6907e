/*
 * The decoded-but-not-decrypted view of one keystore file, shared by the
 * format readers (PKCS#12, JKS/JCEKS, PEM) and the store. Private keys stay
 * encrypted until a caller actually asks for the key, so reading
 * certificates never pays for key decryption.
 */
#ifndef KMTLS_KEYSTORE_H
#define KMTLS_KEYSTORE_H

#include <stddef.h>
#include <openssl/types.h>
#include <openssl/x509.h>

/* Outcome of an operation: a kafka_mtls_reason and a user-facing message
 * naming the file and the cause. reason == 0 means success. */
typedef struct km_status {
    int reason;
    char msg[512];
} km_status;

/* Records the first failure only: the root cause is what the user needs. */
int km_fail(km_status *st, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef enum km_key_kind {
    KM_KEY_PKCS8,    /* blob: PrivateKeyInfo DER, not encrypted */
    KM_KEY_P12_BAG,  /* blob: PKCS#8 ShroudedKeyBag (EncryptedPrivateKeyInfo) DER */
    KM_KEY_JKS,      /* blob: EncryptedPrivateKeyInfo, Sun JKS key protector */
    KM_KEY_JCEKS,    /* blob: EncryptedPrivateKeyInfo, PBEWithMD5AndTripleDES */
    KM_KEY_PEM       /* blob: PEM text of the key (maybe encrypted) */
} km_key_kind;

typedef struct km_key_entry {
    char *alias;              /* UTF-8, may be NULL (PEM) */
    km_key_kind kind;
    unsigned char *blob;      /* encrypted key, see kind; cleansed on free */
    size_t blob_len;
    STACK_OF(X509) *chain;    /* leaf first, then issuers in order */
} km_key_entry;

typedef struct km_keystore {
    const char *path;         /* borrowed: for messages */
    const char *format;       /* "PKCS#12", "JKS", "JCEKS", "PEM" */
    km_key_entry *keys;
    size_t nkeys;
    STACK_OF(X509) *trusted;  /* trusted certificate entries */
} km_keystore;

/* A password as bytes (UTF-8 as typed); cleansed on free. */
typedef struct km_secret {
    char *data;
    size_t len;
} km_secret;

void km_secret_clear(km_secret *s);

/* sk_X509_pop_free(sk, X509_free); OSSL_STACK_OF_X509_free is 3.2+ only. */
void km_certs_free(STACK_OF(X509) *sk);

km_keystore *km_keystore_new(const char *path);
void km_keystore_free(km_keystore *ks);
/* Appends a key entry; takes ownership of alias, blob, chain. NULL on OOM. */
km_key_entry *km_keystore_add_key(km_keystore *ks, char *alias, km_key_kind kind,
                                  unsigned char *blob, size_t blob_len,
                                  STACK_OF(X509) *chain);

/*
 * Key derivation iteration counts above this are refused before any work:
 * keytool writes 10000, Java 21 210000; 2,000,000 rounds of PBKDF2 already
 * cost about a second.
 */
#define KM_MAX_KDF_ITERATIONS 2000000L

/* The iteration count of a PBES1/PBES2 (PBKDF2) or PKCS#12 PBE algorithm
 * identifier; 0 when it names none (or is not one of those). */
long km_kdf_iterations(const X509_ALGOR *alg);

/* Recognised formats, sniffed from content. */
typedef enum km_format {
    KM_FORMAT_UNKNOWN = 0, KM_FORMAT_PKCS12, KM_FORMAT_JKS, KM_FORMAT_JCEKS, KM_FORMAT_PEM
} km_format;

km_format km_sniff(const unsigned char *buf, size_t len);

/*
 * Format readers. Each parses buf (the whole file) into ks, verifying the
 * store's integrity with password (JKS/JCEKS trailer, PKCS#12 MAC) and
 * leaving private keys encrypted. password may be NULL only where the format
 * needs none (PEM). Return 1 on success, 0 with st set.
 */
int km_read_pkcs12(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                   const km_secret *password, km_keystore *ks, km_status *st);
int km_read_jks(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                const km_secret *password, km_keystore *ks, km_status *st);
int km_read_pem(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                km_keystore *ks, km_status *st);

/*
 * Decrypts a key entry into PrivateKeyInfo DER (*der, cleanse-free with
 * OPENSSL_clear_free(*der, *der_len)). Returns 1, or 0 with st set.
 */
int km_decrypt_key(OSSL_LIB_CTX *libctx, const km_keystore *ks,
                   const km_key_entry *key, const km_secret *password,
                   unsigned char **der, size_t *der_len, km_status *st);
/* Per-format halves of km_decrypt_key. */
int km_decrypt_p12_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len,
                       km_status *st);
int km_decrypt_jks_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len,
                       km_status *st);
int km_decrypt_pem_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len,
                       km_status *st);

#endif
