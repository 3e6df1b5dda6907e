/* Printing what `kafka-mtls inspect` shows about keys and certificates. */
#ifndef KMTLS_INSPECT_H
#define KMTLS_INSPECT_H

#include <stddef.h>
#include <time.h>
#include <openssl/types.h>
#include <openssl/x509.h>

/* "EC P-256", "RSA 2048", "ED25519" */
void km_describe_key(const EVP_PKEY *key, char *buf, size_t n);
/* subject, issuer, serial, SAN, EKU, validity with days left, prefixed by indent. */
void km_print_cert(const X509 *x, time_t now, const char *indent);
/* 1 if the certificate is valid at now */
/* Verifies leaf + chain[1..] against trusted for the leaf's TLS use (client,
 * or server for server-only certificates, named in *purpose); 1, or 0 with
 * the reason in why. */
int km_verify_chain(OSSL_LIB_CTX *libctx, STACK_OF(X509) *chain, STACK_OF(X509) *trusted, time_t now,
                    const char **purpose, char *why, size_t n);

#endif
