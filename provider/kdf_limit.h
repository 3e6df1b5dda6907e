/* Iteration counts come from the file: a hostile volume could ask for
 * billions of PBKDF2 rounds and stall every client start. */
#ifndef KMTLS_KDF_LIMIT_H
#define KMTLS_KDF_LIMIT_H

#include <openssl/x509.h>

#include "kmtls/status.h"

/*
 * Key derivation iteration counts above this are refused before any work:
 * keytool writes 10000, Java 21 210000; 2,000,000 rounds of PBKDF2 already
 * cost about a second.
 */
#define KM_MAX_KDF_ITERATIONS 2000000L

/* The iteration count of a PBES1/PBES2 (PBKDF2, scrypt as N*r*p) or
 * PKCS#12 PBE algorithm identifier; 0 when it names none, -1 when its
 * parameters cannot be read. */
long km_kdf_iterations(const X509_ALGOR *alg);

/* 1 if iter is within the cap; else 0 with st set (UNSUPPORTED_CONTENT),
 * naming path and what asked for it ("MAC", "private key", ...). */
int km_kdf_allowed(long iter, const char *what, const char *path, km_status *st);

#endif
