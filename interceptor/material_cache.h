/* Decoded key material shared by the clients of one process. */
#ifndef KMTLS_MATERIAL_CACHE_H
#define KMTLS_MATERIAL_CACHE_H

#include "pem_bundle.h"
#include "settings.h"

/*
 * A second client with the same configuration, over files that have not
 * changed, gets a copy of what the first one decoded: no PBKDF2 work and no
 * file reads beyond a few stat calls. Entries are keyed on the settings
 * (passwords hashed) and on the identity (device, inode, size, mtime, ctime) of
 * the volume directory, every file in it, and the named store and password
 * files; any change is a miss. 1 on a hit (out filled), 0 on a miss.
 */
typedef struct km_cache_key {
    unsigned char digest[32];
    int valid;
} km_cache_key;

/* The key for s, taken BEFORE reading, so that material read while the
 * files changed is stored under the old identity and never served for the
 * new one. */
km_cache_key km_cache_key_of(const km_settings *s);
int km_cache_get(const km_cache_key *key, km_pem_bundle *out);
void km_cache_put(const km_cache_key *key, const km_pem_bundle *b);

/*
 * An entry lives only while a client uses it: no plaintext key outlives the
 * clients it was read for. A client that was given b (b->cached: read into
 * or from the cache) holds its entry (1; 0 if it is gone) and releases it
 * when it is destroyed; the last release clears it, as does a sweep after a
 * client creation that failed.
 */
int km_cache_hold(const km_pem_bundle *b);
void km_cache_release(const unsigned char digest[32]);
void km_cache_sweep(void);

#endif
