/*
 * The per-process cache behind km_cache_get/put, its entries held by the
 * live clients that use them and cleared when the last lets go. The key is a SHA-256 over
 * the configuration and over the fingerprints (stat(2) data, the scheme
 * the provider pins volumes with: kmtls/fingerprint.h) of every file the
 * material can come from, so the cache can never serve material older
 * than the volume.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kmtls/fingerprint.h"
#include "material_cache.h"

#define SLOTS 8

typedef struct entry {
    unsigned char key[32];
    km_pem_bundle b;
    int used;
    int refs;          /* live clients holding it (km_cache_hold) */
} entry;

static entry slots[SLOTS];
static size_t next_slot;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void feed_str(EVP_MD_CTX *md, const char *s)
{
    unsigned char present = s != NULL;

    EVP_DigestUpdate(md, &present, 1);
    if (s != NULL)
        EVP_DigestUpdate(md, s, strlen(s) + 1);
}

/* The identity of path's files (km_fingerprint: a directory, its entries
 * and ..data); with beside, for a store file, its directory's too
 * (ALIAS_creds appears beside it). */
static void feed_files(EVP_MD_CTX *md, const char *path, int beside)
{
    unsigned long long fp[2] = { 0, 0 };
    char dir[PATH_MAX];
    struct stat sb;
    char *slash;

    feed_str(md, path);
    if (path == NULL)
        return;
    fp[0] = km_fingerprint(path);
    snprintf(dir, sizeof(dir), "%s", path);
    if (beside && !(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) && (slash = strrchr(dir, '/')) != NULL &&
        slash != dir) {
        *slash = '\0';
        fp[1] = km_fingerprint(dir);
    }
    EVP_DigestUpdate(md, fp, sizeof(fp));
}

static int cache_key(const km_settings *s, unsigned char key[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);

    if (ok) {
        feed_str(md, s->volume);
        feed_str(md, s->keystore);
        feed_str(md, s->truststore);
        feed_str(md, s->alias);
        feed_str(md, s->password_file);
        feed_str(md, s->keystore_password);
        feed_str(md, s->key_password);
        feed_str(md, s->truststore_password);
        feed_files(md, km_settings_source(s), 1);
        feed_files(md, s->truststore, 1);
        feed_files(md, s->password_file, 0);
        ok = EVP_DigestFinal_ex(md, key, NULL);
    }
    EVP_MD_CTX_free(md);
    return ok;
}

km_cache_key km_cache_key_of(const km_settings *s)
{
    km_cache_key k;

    k.valid = cache_key(s, k.digest);
    return k;
}

int km_cache_get(const km_cache_key *key, km_pem_bundle *out)
{
    int hit = 0;

    if (!key->valid)
        return 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < SLOTS && !hit; i++)
        if (slots[i].used && CRYPTO_memcmp(slots[i].key, key->digest, sizeof(key->digest)) == 0)
            hit = km_pem_bundle_copy(out, &slots[i].b);
    pthread_mutex_unlock(&lock);
    return hit;
}

void km_cache_put(const km_cache_key *key, const km_pem_bundle *b)
{
    entry *e = NULL;

    if (!key->valid)
        return;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < SLOTS && e == NULL; i++)
        if (slots[i].used && CRYPTO_memcmp(slots[i].key, key->digest, sizeof(key->digest)) == 0)
            e = &slots[i];
    /* a free slot, or one no live client holds, before one in use */
    for (size_t i = 0; i < SLOTS && e == NULL; i++)
        if (!slots[i].used || slots[i].refs == 0)
            e = &slots[i];
    if (e == NULL) {
        e = &slots[next_slot++ % SLOTS];
        e->refs = 0;
    }
    if (e->used)
        km_pem_bundle_clear(&e->b);
    e->used = km_pem_bundle_copy(&e->b, b);
    memcpy(e->key, key->digest, sizeof(key->digest));
    pthread_mutex_unlock(&lock);
}

/* With the lock held: entries no live client holds are cleared. */
static void sweep(void)
{
    for (size_t i = 0; i < SLOTS; i++)
        if (slots[i].used && slots[i].refs == 0) {
            km_pem_bundle_clear(&slots[i].b);
            slots[i].used = 0;
        }
}

static entry *find(const unsigned char digest[32])
{
    for (size_t i = 0; i < SLOTS; i++)
        if (slots[i].used && CRYPTO_memcmp(slots[i].key, digest, 32) == 0)
            return &slots[i];
    return NULL;
}

int km_cache_hold(const km_pem_bundle *b)
{
    entry *e;

    if (!b->cached)
        return 0;
    pthread_mutex_lock(&lock);
    if ((e = find(b->cache_digest)) != NULL)
        e->refs++;
    pthread_mutex_unlock(&lock);
    return e != NULL;
}

void km_cache_release(const unsigned char digest[32])
{
    entry *e;

    pthread_mutex_lock(&lock);
    if ((e = find(digest)) != NULL && e->refs > 0)
        e->refs--;
    sweep();
    pthread_mutex_unlock(&lock);
}

void km_cache_sweep(void)
{
    pthread_mutex_lock(&lock);
    sweep();
    pthread_mutex_unlock(&lock);
}
