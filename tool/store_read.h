/*
 * Reading a keystore: URI the way every client does, through the provider's
 * OSSL_STORE; shared by the command, the issuer and the librdkafka plugin.
 */
#ifndef KMTLS_STORE_READ_H
#define KMTLS_STORE_READ_H

#include <stddef.h>
#include <openssl/core.h>
#include <openssl/types.h>
#include <openssl/x509.h>

/* store_read.c: objects of a keystore: URI, through OSSL_STORE in libctx. */
typedef struct km_loaded {
    EVP_PKEY *key;
    STACK_OF(X509) *certs;  /* in the order yielded */
    int reason;             /* kafka_mtls_reason of the failure, 0 on success */
} km_loaded;

/* keystore:PATH?part=PART&alias=ALIAS&password-file=PWFILE (NULLs omitted). */
void km_store_uri(char *uri, size_t n, const char *path, const char *part, const char *alias,
                  const char *password_file);
/* expect: 0 or OSSL_STORE_INFO_*. 1, or 0 with the provider's message in msg. */
int km_store_load(OSSL_LIB_CTX *libctx, const char *uri, int expect, km_loaded *out, char *msg, size_t n);
/* The same with OSSL_STORE_open_ex() parameters (KAFKA_MTLS_PARAM_PASSWORD ...). */
int km_store_load_ex(OSSL_LIB_CTX *libctx, const char *uri, int expect, const OSSL_PARAM *params,
                     km_loaded *out, char *msg, size_t n);
void km_loaded_clear(km_loaded *l);

#endif
