/*
 * Internal to the JKS/JCEKS reader: what the store-file parser (jks.c) needs
 * from the password and key-protector code (jks_protect.c).
 */
#ifndef KMTLS_JKS_PROTECT_H
#define KMTLS_JKS_PROTECT_H

#include <stddef.h>
#include <openssl/types.h>
#include <openssl/x509.h>

#include "keystore.h"
#include "kmtls/secret.h"

#define SHA1_LEN 20

/* Outcome of the store trailer check or of a key protector. */
typedef enum unprotect_result {
    UNP_OK,
    UNP_BAD_PASSWORD,   /* the password does not fit */
    UNP_MALFORMED,      /* the protected data is not what the algorithm needs */
    UNP_UNSUPPORTED,    /* something we recognise but cannot use */
    UNP_INTERNAL        /* out of memory or a libcrypto failure */
} unprotect_result;

/* Java's modified UTF-8 (aliases) to UTF-8; NULL on OOM. */
char *km_jks_mutf8_to_utf8(const unsigned char *s, size_t n, int *malformed);

/* The password as Java's char[] in UTF-16BE (trailer, JKS protector). */
int km_jks_password_utf16be(const km_secret *pw, unsigned char **out, size_t *out_len);
void km_jks_pw16_free(unsigned char *pw16, const km_secret *pw);

/* kafka_mtls_reason for a failed check. */
int km_jks_reason_of(unprotect_result r);

/* SHA1(pw16 || "Mighty Aphrodite" || body) == trailer, in constant time. */
unprotect_result km_jks_check_trailer(OSSL_LIB_CTX *libctx, const unsigned char *pw16,
                                      size_t pw16_len, const unsigned char *body,
                                      size_t body_len, const unsigned char *trailer);

/* An EncryptedPrivateKeyInfo from DER that must be consumed whole; NULL if not. */
X509_SIG *km_jks_parse_epki(const unsigned char *blob, size_t len);

/* KM_KEY_JKS or KM_KEY_JCEKS by the protector's OID, -1 if neither. */
int km_jks_protector_of(const X509_SIG *sig);

/* Decrypts an EncryptedPrivateKeyInfo with either protector into PKCS#8 DER;
 * why explains a failure. */
unprotect_result km_jks_unprotect(OSSL_LIB_CTX *libctx, const unsigned char *blob,
                                  size_t blob_len, int expect_kind, const km_secret *pw,
                                  unsigned char **der, size_t *der_len, const char **why);

#endif
