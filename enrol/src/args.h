/* A call's arguments, checked before anything is sent. Each returns
 * KM_ENROL_OK or KM_ENROL_BAD_ARGUMENT (INTERNAL on no memory) with the
 * cause in err[n]. */
#ifndef KME_ARGS_H
#define KME_ARGS_H

#include <stddef.h>
#include <openssl/x509.h>
#include "kmtls/enrol.h"

/* A JWT is three base64url parts; step's are about 1 KiB. */
#define KME_TOKEN_MAX 16384
#define KME_NOT_AFTER_MAX 32

/* url and ca_file given; *timeout_ms = the bound to use. */
km_enrol_reason kme_check_service(const km_enrol_service *svc, long *timeout_ms,
                                  char *err, size_t n);
/* 1 when t is 1..KME_TOKEN_MAX characters of base64url and '.'. */
int kme_token_ok(const char *t);
/* 1 when s is a Go duration: ([0-9]+(.[0-9]+)?(ns|us|ms|s|m|h))+, at most
 * KME_NOT_AFTER_MAX characters. */
int kme_duration_ok(const char *s);
/* The CSR has a key and is signed by it. */
km_enrol_reason kme_check_csr(X509_REQ *csr, char *err, size_t n);
/* *out = the certificates of the PEM file (at least one); what names the
 * setting in messages ("ca_file"). */
km_enrol_reason kme_load_roots(const char *file, const char *what, X509_STORE **out,
                               char *err, size_t n);
/* Both given, and key is current's. */
km_enrol_reason kme_check_current(X509 *current, EVP_PKEY *key, char *err, size_t n);

#endif
