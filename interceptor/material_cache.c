/*
 * The per-process cache behind km_cache_get/put. The key is a SHA-256 over
 * the configuration and over stat(2) data of every file the material can
 * come from, so the cache can never serve material older than the volume.
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "material_cache.h"

#define SLOTS 8

typedef struct entry {
    unsigned char key[32];
    km_pem_bundle b;
    int used;
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

static void feed_stat(EVP_MD_CTX *md, const char *path)
{
    struct stat sb;
    long long id[5] = { 0 };

    if (path != NULL && stat(path, &sb) == 0) {
        id[0] = (long long)sb.st_dev;
        id[1] = (long long)sb.st_ino;
        id[2] = (long long)sb.st_size;
        id[3] = (long long)sb.st_mtim.tv_sec;
        id[4] = (long long)sb.st_mtim.tv_nsec;
    }
    feed_str(md, path);
    EVP_DigestUpdate(md, id, sizeof(id));
}

/* A directory: itself (entries added, removed, renamed) and each file in
 * it (rewritten in place), in name order so the key does not depend on
 * readdir's. */
static void feed_dir(EVP_MD_CTX *md, const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    char path[PATH_MAX];

    feed_stat(md, dir);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.')
            feed_stat(md, path);
        free(names[i]);
    }
    free(names);
}

/* A file and its directory (ALIAS_creds appears beside it). */
static void feed_file_or_dir(EVP_MD_CTX *md, const char *path)
{
    struct stat sb;
    char dir[PATH_MAX];
    char *slash;

    if (path == NULL)
        return;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        feed_dir(md, path);
        return;
    }
    feed_stat(md, path);
    snprintf(dir, sizeof(dir), "%s", path);
    if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        feed_dir(md, dir);
    }
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
        feed_file_or_dir(md, s->volume != NULL ? s->volume : s->keystore);
        feed_file_or_dir(md, s->truststore);
        if (s->password_file != NULL)
            feed_stat(md, s->password_file);
        ok = EVP_DigestFinal_ex(md, key, NULL);
    }
    EVP_MD_CTX_free(md);
    return ok;
}

static char *dup_or_null(const char *s, int *ok)
{
    char *d = s != NULL ? OPENSSL_strdup(s) : NULL;

    if (s != NULL && d == NULL)
        *ok = 0;
    return d;
}

static int bundle_copy(km_pem_bundle *dst, const km_pem_bundle *src)
{
    int ok = 1;

    memset(dst, 0, sizeof(*dst));
    if ((dst->key = OPENSSL_malloc(src->key_len + 1)) == NULL)
        return 0;
    memcpy(dst->key, src->key, src->key_len + 1);
    dst->key_len = src->key_len;
    dst->leaf = dup_or_null(src->leaf, &ok);
    dst->chain = dup_or_null(src->chain, &ok);
    dst->trusted = dup_or_null(src->trusted, &ok);
    if (src->leaf_cert != NULL && X509_up_ref(src->leaf_cert))
        dst->leaf_cert = src->leaf_cert;
    memcpy(dst->subject, src->subject, sizeof(dst->subject));
    memcpy(dst->not_after, src->not_after, sizeof(dst->not_after));
    if (!ok)
        km_pem_bundle_clear(dst);
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
            hit = bundle_copy(out, &slots[i].b);
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
    if (e == NULL)
        e = &slots[next_slot++ % SLOTS];
    if (e->used)
        km_pem_bundle_clear(&e->b);
    e->used = bundle_copy(&e->b, b);
    memcpy(e->key, key->digest, sizeof(key->digest));
    pthread_mutex_unlock(&lock);
}
