/*
 * PEM files (cert-manager and spiffe-helper volumes, or hand-made bundles):
 * certificates in file order, private keys kept as their PEM block until
 * the key is asked for (it may be encrypted). The blocks come from
 * km_pem_each, which tells certificates from keys.
 */
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "kdf_limit.h"
#include "kmtls/pem.h"
#include "readers.h"

typedef struct pem_read {
    OSSL_LIB_CTX *libctx;
    km_keystore *ks;
    km_ders certs;  /* every certificate block, in file order */
    km_status *st;
} pem_read;

/* Re-encodes one PEM block into an owned buffer; only its exact text is kept. */
static unsigned char *pem_text(const km_pem_block *b, size_t *out_len)
{
    BIO *mem = BIO_new(BIO_s_secmem());
    unsigned char *copy = NULL;
    BUF_MEM *bm;

    if (mem != NULL && PEM_write_bio(mem, b->name, b->header, b->data, b->len) > 0 &&
        BIO_get_mem_ptr(mem, &bm) > 0 && (copy = OPENSSL_memdup(bm->data, bm->length)) != NULL)
        *out_len = bm->length;
    BIO_free(mem);
    return copy;
}

static int add_key_block(pem_read *r, const km_pem_block *b)
{
    unsigned char *blob;
    size_t blob_len = 0;
    km_key_kind kind;

    if (strcmp(b->name, PEM_STRING_PKCS8INF) == 0) {
        kind = KM_KEY_PKCS8; /* already PrivateKeyInfo DER */
        blob = OPENSSL_memdup(b->data, (size_t)b->len);
        blob_len = (size_t)b->len;
    } else {
        kind = KM_KEY_PEM;
        blob = pem_text(b, &blob_len);
    }
    if (blob == NULL || km_keystore_add_key(r->ks, NULL, kind, blob, blob_len, NULL) == NULL) {
        OPENSSL_clear_free(blob, blob_len);
        return km_fail(r->st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    return 1;
}

static int take_block(const km_pem_block *b, void *arg)
{
    pem_read *r = arg;

    if (!km_entries_allowed(b->number, "PEM", r->ks->path, r->st))
        return 0;
    if (b->kind == KM_PEM_KEY || b->kind == KM_PEM_ENCRYPTED_KEY)
        return add_key_block(r, b);
    if (b->kind != KM_PEM_CERT)
        return 1;
    /* "TRUSTED CERTIFICATE" (openssl x509 -trustout) carries trust settings
     * after the certificate: read by libcrypto, and only the certificate is
     * kept, as it always was */
    if (strcmp(b->name, PEM_STRING_X509_TRUSTED) == 0) {
        X509 *x = km_pem_cert(r->libctx, b);
        int ok = x != NULL && km_ders_add_x509(&r->certs, x);

        X509_free(x);
        if (x == NULL)
            return km_fail_crypto(r->st, KAFKA_MTLS_R_CORRUPT, "%s: PEM block %d (%s) is not a valid "
                                  "certificate", r->ks->path, b->number, b->name);
        return ok ? 1 : km_fail(r->st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    if (b->len <= 0 || !km_der_is_certificate_shaped(b->data, (size_t)b->len))
        return km_fail(r->st, KAFKA_MTLS_R_CORRUPT, "%s: PEM block %d (%s) is not a valid certificate",
                       r->ks->path, b->number, b->name);
    if (!km_ders_add(&r->certs, b->data, (size_t)b->len))
        return km_fail(r->st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    return 1;
}

int km_read_pem(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                const km_secret *password, km_keystore *ks, km_status *st)
{
    pem_read r = { .libctx = libctx, .ks = ks, .st = st };
    int blocks = 0, done;

    (void)password; /* a PEM file has no store password: only its keys may be encrypted */
    ks->format = KM_FORMAT_PEM;
    ERR_set_mark();
    done = km_pem_each(buf, len, take_block, &r, &blocks);
    ERR_pop_to_mark();
    if (done == KM_PEM_DAMAGED)
        km_fail(st, KAFKA_MTLS_R_CORRUPT, blocks == 0 ? "%s: no PEM blocks found"
                                                      : "%s: truncated or damaged PEM block", ks->path);
    if (done != KM_PEM_DONE) {
        km_ders_clear(&r.certs);
        return 0;
    }
    /* With a key, the file's certificates are its chain (leaf first);
     * without one they are trust anchors (ca.crt, a bundle), or the chain
     * of a key in the file beside (tls.crt: assembly.c joins them). */
    if (ks->nkeys > 0)
        ks->keys[0].chain = r.certs;
    else
        ks->trusted = r.certs;
    return 1;
}

/* What the key's one PEM block says of it: encrypted at all, and for
 * encrypted PKCS#8 the iteration count its key derivation asks for. */
typedef struct key_facts {
    int encrypted;
    long iterations;
} key_facts;

static int read_facts(const km_pem_block *b, void *arg)
{
    key_facts *f = arg;

    f->encrypted = b->kind == KM_PEM_ENCRYPTED_KEY;
    if (strcmp(b->name, PEM_STRING_PKCS8) == 0) {
        const unsigned char *p = b->data;
        X509_SIG *sig = d2i_X509_SIG(NULL, &p, b->len);
        const X509_ALGOR *alg = NULL;

        if (sig != NULL)
            X509_SIG_get0(sig, &alg, NULL);
        f->iterations = km_kdf_iterations(alg);
        X509_SIG_free(sig);
    }
    return 0; /* one block: the key */
}

int km_decrypt_pem_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len, km_status *st)
{
    key_facts facts = { 0, 0 };
    EVP_PKEY *pkey = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    int ok = 0;

    ERR_set_mark();
    km_pem_each(key->blob, key->blob_len, read_facts, &facts, NULL);
    if (facts.encrypted && (password == NULL || password->data == NULL)) {
        km_fail(st, KAFKA_MTLS_R_NO_PASSWORD, "%s: the private key is encrypted and no password was given",
                ks->path);
        goto done;
    }
    /* PKCS#8: the KDF's iteration count is the file's to choose */
    if (!km_kdf_allowed(facts.iterations, "private key", ks->path, st))
        goto done;
    pkey = km_pem_private_key(libctx, key->blob, key->blob_len, password != NULL ? password->data : NULL,
                              password != NULL ? password->len : 0, NULL);
    if (pkey == NULL) {
        km_fail_crypto(st, facts.encrypted ? KAFKA_MTLS_R_WRONG_PASSWORD : KAFKA_MTLS_R_CORRUPT,
                       facts.encrypted ? "%s: the password does not decrypt the private key"
                                       : "%s: unreadable private key", ks->path);
        goto done;
    }
    p8 = EVP_PKEY2PKCS8(pkey);
    ok = km_key_der(p8, ks, der, der_len, st);
done:
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
    ERR_pop_to_mark();
    return ok;
}
