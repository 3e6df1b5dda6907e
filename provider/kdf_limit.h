/* The caps on what a store file may make a reader do, in one place: key
 * derivation iterations come from the file, and so does its number of
 * entries; a hostile volume could ask for billions of PBKDF2 rounds or
 * thousands of certificates and stall every client start. Each cap is
 * checked before the work it bounds. */
#ifndef KMTLS_KDF_LIMIT_H
#define KMTLS_KDF_LIMIT_H

#include <openssl/x509.h>

#include "kmtls/status.h"

/*
 * Defaults, at what real tools write with room to spare: keytool 17 writes
 * 10,000 PBKDF2 iterations (MAC, safe, key), OpenSSL 2,048, kafka-mtls 2,048
 * or 10,000; the JDK writes JCEKS keys with 200,000; a client store holds
 * a handful of entries (a truststore bundle of public CAs about 150).
 * Raised (or lowered) by the provider's configuration keys and the
 * environment variables of include/kafka-mtls.h; the environment wins.
 */
#define KM_CAP_KDF_ITERATIONS   100000L  /* per derivation: PKCS#12 MAC, safes, keys; PBES2 */
#define KM_CAP_JCEKS_ITERATIONS 250000L  /* per JCEKS key (PBEWithMD5AndTripleDES) */
#define KM_CAP_ENTRIES          1024L    /* entries (bags, PEM blocks) per store file */

long km_cap_kdf_iterations(void);
long km_cap_jceks_iterations(void);
long km_cap_entries(void);

/* The provider's configuration keys (NULL: not set). */
void km_caps_configure(const char *kdf_iterations, const char *jceks_iterations, const char *entries);

/* The iteration count of a PBES1/PBES2 (PBKDF2, scrypt) or PKCS#12 PBE
 * algorithm identifier; 0 when it names none, -1 when its parameters
 * cannot be read. */
long km_kdf_iterations(const X509_ALGOR *alg);

/* 1 if iter is within the cap; else 0 with st set (UNSUPPORTED_CONTENT),
 * naming path, what asked for it ("MAC", "private key", ...) and how to
 * raise the cap. */
int km_kdf_allowed(long iter, const char *what, const char *path, km_status *st);
/* The same for the number of entries of a store (format: "JKS", ...). */
int km_entries_allowed(long entries, const char *format, const char *path, km_status *st);

#endif
