/* km_pem_bundle: the key material read for a client, and its PEM text for librdkafka. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kmtls/secure_mem.h"
#include "kmtls/x509.h"
#include "pem_bundle.h"

/* The key's PEM text, into secure memory (kmtls/secure_mem.h). */
static char *bio_to_secret(BIO *b, size_t *len)
{
    BUF_MEM *bm;
    char *s;

    if (BIO_get_mem_ptr(b, &bm) <= 0 || (s = km_secure_alloc(bm->length + 1)) == NULL)
        return NULL;
    memcpy(s, bm->data, bm->length);
    s[bm->length] = '\0';
    *len = bm->length;
    return s;
}

static char *bio_to_string(BIO *b, size_t *len)
{
    BUF_MEM *bm;
    char *s;

    if (BIO_get_mem_ptr(b, &bm) <= 0 || (s = OPENSSL_malloc(bm->length + 1)) == NULL)
        return NULL;
    memcpy(s, bm->data, bm->length);
    s[bm->length] = '\0';
    if (len != NULL)
        *len = bm->length;
    return s;
}

/* A stack holding references to certs[from, to), or NULL. */
static STACK_OF(X509) *certs_ref(STACK_OF(X509) *certs, int from, int to)
{
    STACK_OF(X509) *out = sk_X509_new_reserve(NULL, to - from > 0 ? to - from : 1);

    for (int i = from; out != NULL && i < to; i++) {
        X509 *x = sk_X509_value(certs, i);

        if (!X509_up_ref(x)) {
            sk_X509_pop_free(out, X509_free);
            return NULL;
        }
        sk_X509_push(out, x); /* reserved: cannot fail */
    }
    return out;
}

static STACK_OF(X509) *certs_copy(const STACK_OF(X509) *certs, int *ok)
{
    STACK_OF(X509) *out = certs != NULL ? certs_ref((STACK_OF(X509) *)certs, 0, sk_X509_num(certs)) : NULL;

    if (certs != NULL && out == NULL)
        *ok = 0;
    return out;
}

static char *certs_pem(STACK_OF(X509) *certs, int from, int to)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    int ok = b != NULL;

    for (int i = from; ok && i < to; i++)
        ok = PEM_write_bio_X509(b, sk_X509_value(certs, i));
    if (ok)
        s = bio_to_string(b, NULL);
    BIO_free(b);
    return s;
}

int km_pem_bundle_make(EVP_PKEY *key, STACK_OF(X509) *chain, STACK_OF(X509) *trusted, km_pem_bundle *b)
{
    X509 *leaf = sk_X509_value(chain, 0);
    int n = sk_X509_num(chain), ok;

    memset(b, 0, sizeof(*b));
    /* A self-signed root at the end of the chain is not sent: the peer
     * has it or the handshake fails anyway. */
    if (n > 1 && X509_check_issued(sk_X509_value(chain, n - 1), sk_X509_value(chain, n - 1)) == X509_V_OK)
        n--;
    ok = (b->certs = certs_ref(chain, 0, n)) != NULL &&
         (sk_X509_num(trusted) <= 0 || (b->trust = certs_ref(trusted, 0, sk_X509_num(trusted))) != NULL) &&
         EVP_PKEY_up_ref(key) && (b->pkey = key) != NULL && X509_up_ref(leaf);
    if (!ok) {
        km_pem_bundle_clear(b);
        return 0;
    }
    b->leaf_cert = leaf;
    X509_NAME_oneline(X509_get_subject_name(leaf), b->subject, sizeof(b->subject));
    km_time_text(X509_get0_notAfter(leaf), b->not_after, sizeof(b->not_after));
    return 1;
}

int km_pem_bundle_text(km_pem_bundle *b)
{
    BIO *kb;
    int n = sk_X509_num(b->certs), ok;

    if (b->key != NULL)
        return 1;
    /* What is left beyond the leaf goes through a chain file (librdkafka
     * < 2.8 sends only the leaf of a PEM). */
    ok = (kb = BIO_new(BIO_s_secmem())) != NULL && PEM_write_bio_PrivateKey(kb, b->pkey, NULL, NULL, 0, NULL, NULL) &&
         (b->key = bio_to_secret(kb, &b->key_len)) != NULL && (b->leaf = certs_pem(b->certs, 0, 1)) != NULL &&
         (n < 2 || (b->chain = certs_pem(b->certs, 0, n)) != NULL) &&
         (sk_X509_num(b->trust) <= 0 || (b->trusted = certs_pem(b->trust, 0, sk_X509_num(b->trust))) != NULL);
    BIO_free(kb);
    if (!ok) {
        km_secure_free(b->key, b->key_len + 1);
        OPENSSL_free(b->leaf);
        OPENSSL_free(b->chain);
        OPENSSL_free(b->trusted);
        b->key = b->leaf = b->chain = b->trusted = NULL;
        b->key_len = 0;
    }
    return ok;
}

static int same_certs(const STACK_OF(X509) *a, const STACK_OF(X509) *b)
{
    if (sk_X509_num(a) != sk_X509_num(b))
        return 0;
    for (int i = 0; i < sk_X509_num(a); i++)
        if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) != 0)
            return 0;
    return 1;
}

int km_pem_bundle_same(const km_pem_bundle *a, const km_pem_bundle *b)
{
    return a->pkey != NULL && b->pkey != NULL && EVP_PKEY_eq(a->pkey, b->pkey) == 1 &&
           same_certs(a->certs, b->certs) && same_certs(a->trust, b->trust);
}

static char *dup_or_null(const char *s, int *ok)
{
    char *d = s != NULL ? OPENSSL_strdup(s) : NULL;

    if (s != NULL && d == NULL)
        *ok = 0;
    return d;
}

int km_pem_bundle_copy(km_pem_bundle *dst, const km_pem_bundle *src)
{
    int ok = 1;

    memset(dst, 0, sizeof(*dst));
    if (src->key != NULL) {
        if ((dst->key = km_secure_alloc(src->key_len + 1)) == NULL)
            return 0;
        memcpy(dst->key, src->key, src->key_len + 1);
        dst->key_len = src->key_len;
    }
    dst->leaf = dup_or_null(src->leaf, &ok);
    dst->chain = dup_or_null(src->chain, &ok);
    dst->trusted = dup_or_null(src->trusted, &ok);
    if (src->leaf_cert != NULL && X509_up_ref(src->leaf_cert))
        dst->leaf_cert = src->leaf_cert;
    if (src->pkey != NULL && EVP_PKEY_up_ref(src->pkey))
        dst->pkey = src->pkey;
    ok = ok && (src->pkey == NULL || dst->pkey != NULL);
    dst->certs = certs_copy(src->certs, &ok);
    dst->trust = certs_copy(src->trust, &ok);
    memcpy(dst->subject, src->subject, sizeof(dst->subject));
    memcpy(dst->not_after, src->not_after, sizeof(dst->not_after));
    if (!ok)
        km_pem_bundle_clear(dst);
    return ok;
}

void km_pem_bundle_clear(km_pem_bundle *b)
{
    km_secure_free(b->key, b->key_len + 1);
    OPENSSL_free(b->leaf);
    OPENSSL_free(b->chain);
    OPENSSL_free(b->trusted);
    X509_free(b->leaf_cert);
    EVP_PKEY_free(b->pkey);   /* the last reference cleanses the key */
    sk_X509_pop_free(b->certs, X509_free);
    sk_X509_pop_free(b->trust, X509_free);
    memset(b, 0, sizeof(*b));
}
