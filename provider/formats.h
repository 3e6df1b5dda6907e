/* The keystore formats a store file may be in: one row each, chosen by
 * what km_sniff says of the file's content (formats.c). Sniffing and the
 * formats' names stay in common/sniff.c: the command's inspect names files
 * the provider never reads, and may not include this header. */
#ifndef KMTLS_FORMATS_H
#define KMTLS_FORMATS_H

#include <stddef.h>
#include <openssl/types.h>

#include "keystore.h"
#include "kmtls/secret.h"
#include "kmtls/sniff.h"
#include "kmtls/status.h"

typedef struct km_format_ops {
    km_format format;     /* what km_sniff says of such a file (its name: km_format_name) */
    int needs_password;   /* the store cannot be read without one (its integrity check) */
    int (*read)(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len, const km_secret *password,
                km_keystore *ks, km_status *st);
    int (*decrypt)(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                   const km_secret *password, unsigned char **der, size_t *der_len, km_status *st);
} km_format_ops;

/* The row for format, NULL for KM_FORMAT_UNKNOWN. */
const km_format_ops *km_format_ops_of(km_format format);

/* A key entry of ks as PrivateKeyInfo DER: copied when it is in the
 * clear, else decrypted by ks's format. 1, or 0 with st set. */
int km_decrypt_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                   const km_secret *password, unsigned char **der, size_t *der_len, km_status *st);

#endif
