/* PEM text, block by block, through libcrypto's PEM_read_bio: the one
 * place that tells certificates from keys and encrypted keys from clear. */
#ifndef KMTLS_PEM_H
#define KMTLS_PEM_H

#include <stddef.h>

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

#endif
