/*
 * Memory for plaintext key material that lives longer than one call (the
 * PEM text a librdkafka client is given, and the per-process cache of it):
 * whole pages of its own, left out of core dumps (MADV_DONTDUMP), locked
 * in RAM where the limits allow (never swapped out), cleansed and unmapped
 * when freed. Not OpenSSL's secure heap: that is one per process, set up by
 * CRYPTO_secure_malloc_init, and not ours to initialise behind an
 * application's back.
 */
#ifndef KMTLS_SECURE_MEM_H
#define KMTLS_SECURE_MEM_H

#include <stddef.h>

/* n bytes, zeroed; NULL if they cannot be mapped. */
void *km_secure_alloc(size_t n);
/* Cleanses and releases p, which km_secure_alloc(n) returned (NULL: nothing). */
void km_secure_free(void *p, size_t n);

#endif
