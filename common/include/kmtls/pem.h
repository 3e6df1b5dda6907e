/* PEM text, block by block, through libcrypto's PEM_read_bio: the one
 * place that tells certificates from keys and encrypted keys from clear. */
#ifndef KMTLS_PEM_H
#define KMTLS_PEM_H

#include <stddef.h>
#include <openssl/types.h>
#include <openssl/x509.h>

typedef enum km_pem_kind {
    KM_PEM_OTHER = 0,       /* a block of another type (parameters, a CSR, ...) */
    KM_PEM_CERT,            /* CERTIFICATE, X509 CERTIFICATE, TRUSTED CERTIFICATE */
    KM_PEM_KEY,             /* a private key in the clear (PKCS#8 or traditional) */
    KM_PEM_ENCRYPTED_KEY    /* ENCRYPTED PRIVATE KEY, or a traditional key with DEK-Info */
} km_pem_kind;

typedef struct km_pem_block {
    int number;             /* 1 for the first block of the text */
    km_pem_kind kind;
    const char *name;       /* the type after "-----BEGIN " */
    const char *header;     /* the RFC 1421 headers ("" for none) */
    const unsigned char *data; /* the decoded body (cleansed once the callback returns) */
    long len;
} km_pem_block;

enum { KM_PEM_DAMAGED = -1, KM_PEM_STOPPED = 0, KM_PEM_DONE = 1 };

/*
 * Calls each(block, arg) for every block of buf in order; each returns 0
 * to stop. Returns KM_PEM_DONE when the text ended after its last block,
 * KM_PEM_STOPPED when each stopped, KM_PEM_DAMAGED for a truncated or
 * damaged block or a text without any block (*blocks tells which). Leaves
 * nothing on libcrypto's error queue.
 */
int km_pem_each(const unsigned char *buf, size_t len, int (*each)(const km_pem_block *b, void *arg),
                void *arg, int *blocks);

/* One KM_PEM_CERT block as a certificate of libctx (NULL: the default),
 * a TRUSTED CERTIFICATE with its trust settings; NULL if libcrypto cannot
 * decode it (its error stays queued). */
X509 *km_pem_cert(OSSL_LIB_CTX *libctx, const km_pem_block *b);

/*
 * The certificates of PEM text buf in file order (blocks of other kinds are
 * passed over): a CA file, a bundle, an ssl.ca.pem. Reading stops at a
 * damaged block or a certificate that cannot be decoded; the certificates
 * before it are kept, and *result (may be NULL) is KM_PEM_DAMAGED then,
 * KM_PEM_DONE otherwise. NULL only when out of memory. Leaves nothing on
 * libcrypto's error queue.
 */
STACK_OF(X509) *km_pem_certs(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len, int *result);

/*
 * The private key of PEM text buf (its first private key block), decrypted
 * with password[0..pw_len) when it is encrypted; password NULL: there is
 * none, and an encrypted key is not read (nothing ever prompts). NULL if
 * it cannot be read, with libcrypto's error left queued for the caller;
 * *asked (may be NULL) says whether the key wanted a password.
 */
EVP_PKEY *km_pem_private_key(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                             const char *password, size_t pw_len, int *asked);

#endif
