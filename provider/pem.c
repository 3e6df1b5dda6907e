/*
 * PEM files (cert-manager and spiffe-helper volumes, or hand-made bundles):
 * certificates in file order, private keys kept as their PEM block until
 * the key is asked for (it may be encrypted).
 */
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kafka-mtls.h"
#include "keystore.h"

static int is_key_block(const char *name)
{
    size_t n = strlen(name);

    return n >= 11 && strcmp(name + n - 11, "PRIVATE KEY") == 0;
}

static int is_cert_block(const char *name)
{
    return strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
           strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
}

static X509 *decode_cert(OSSL_LIB_CTX *libctx, const char *name,
                         const unsigned char *data, long len)
{
    const unsigned char *p = data;
    X509 *x = X509_new_ex(libctx, NULL);

    if (x == NULL)
        return NULL;
    if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0 ? d2i_X509_AUX(&x, &p, len) == NULL
                                                    : d2i_X509(&x, &p, len) == NULL) {
        /* a failed d2i frees x and sets it to NULL, but d2i_X509_AUX keeps
         * a certificate it was given when only the trailing aux data is bad */
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Re-encodes one PEM block into an owned buffer; only its exact text is kept. */
static unsigned char *pem_block(const char *name, const char *header,
                                const unsigned char *data, long len, size_t *out_len)
{
    BIO *mem = BIO_new(BIO_s_secmem());
    unsigned char *copy = NULL;
    BUF_MEM *bm;

    if (mem != NULL && PEM_write_bio(mem, name, header, data, len) > 0 &&
        BIO_get_mem_ptr(mem, &bm) > 0 && (copy = OPENSSL_memdup(bm->data, bm->length)) != NULL)
        *out_len = bm->length;
    BIO_free(mem);
    return copy;
}

static int add_key_block(km_keystore *ks, const char *name, const char *header,
                         const unsigned char *data, long len, km_status *st)
{
    unsigned char *blob;
    size_t blob_len = 0;
    km_key_kind kind;

    if (strcmp(name, PEM_STRING_PKCS8INF) == 0) {
        kind = KM_KEY_PKCS8; /* already PrivateKeyInfo DER */
        blob = OPENSSL_memdup(data, (size_t)len);
        blob_len = (size_t)len;
    } else {
        kind = KM_KEY_PEM;
        blob = pem_block(name, header, data, len, &blob_len);
    }
    if (blob == NULL || km_keystore_add_key(ks, NULL, kind, blob, blob_len, NULL) == NULL) {
        OPENSSL_clear_free(blob, blob_len);
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    return 1;
}

int km_read_pem(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                km_keystore *ks, km_status *st)
{
    BIO *in = BIO_new_mem_buf(buf, (int)len);
    STACK_OF(X509) *certs = sk_X509_new_null();
    int ok = 0, blocks = 0;

    ks->format = "PEM";
    ERR_set_mark();
    if (in == NULL || certs == NULL) {
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        goto done;
    }
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dlen = 0;
        int step = 1;

        if (!PEM_read_bio(in, &name, &header, &data, &dlen))
            break;
        blocks++;
        if (is_key_block(name)) {
            step = add_key_block(ks, name, header, data, dlen, st);
        } else if (is_cert_block(name)) {
            X509 *x = decode_cert(libctx, name, data, dlen);

            if (x == NULL)
                step = km_fail(st, KAFKA_MTLS_R_CORRUPT,
                               "%s: PEM block %d (%s) is not a valid certificate", ks->path, blocks, name);
            else if (!sk_X509_push(certs, x)) {
                X509_free(x);
                step = km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
            }
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(data, dlen > 0 ? (size_t)dlen : 0);
        if (!step)
            goto done;
    }
    /* PEM_read_bio reports "no start line" at the end of input; anything
     * else means a damaged block. */
    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || blocks == 0) {
        km_fail(st, KAFKA_MTLS_R_CORRUPT, blocks == 0 ? "%s: no PEM blocks found"
                                                      : "%s: truncated or damaged PEM block", ks->path);
        goto done;
    }
    /* With a key, the file's certificates are its chain (leaf first);
     * without one they are trust anchors (ca.crt, a bundle). */
    if (ks->nkeys > 0) {
        ks->keys[0].chain = certs;
        certs = NULL;
    } else {
        ks->trusted = certs;
        certs = NULL;
    }
    ok = 1;
done:
    km_certs_free(certs);
    BIO_free(in);
    ERR_pop_to_mark();
    return ok;
}

static int give_password(char *buf, int size, int rwflag, void *u)
{
    const km_secret *pw = u;

    (void)rwflag;
    if (pw == NULL || pw->data == NULL || pw->len > (size_t)size)
        return -1;
    memcpy(buf, pw->data, pw->len);
    return (int)pw->len;
}

int km_decrypt_pem_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len,
                       km_status *st)
{
    BIO *in = BIO_new_mem_buf(key->blob, (int)key->blob_len);
    int encrypted = memmem(key->blob, key->blob_len, "ENCRYPTED", 9) != NULL;
    EVP_PKEY *pkey = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *out = NULL;
    int len = 0, ok = 0;

    ERR_set_mark();
    if (in == NULL) {
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
        goto done;
    }
    if (encrypted && (password == NULL || password->data == NULL)) {
        km_fail(st, KAFKA_MTLS_R_NO_PASSWORD, "%s: the private key is encrypted and no password was given",
                ks->path);
        goto done;
    }
    if (memmem(key->blob, key->blob_len, "ENCRYPTED PRIVATE KEY", 21) != NULL) {
        /* PKCS#8: the KDF's iteration count is the file's to choose */
        BIO *peek = BIO_new_mem_buf(key->blob, (int)key->blob_len);
        X509_SIG *sig = peek != NULL ? PEM_read_bio_PKCS8(peek, NULL, NULL, NULL) : NULL;
        const X509_ALGOR *alg = NULL;
        long iter = 0;

        if (sig != NULL) {
            X509_SIG_get0(sig, &alg, NULL);
            iter = km_kdf_iterations(alg);
        }
        X509_SIG_free(sig);
        BIO_free(peek);
        if (iter < 0 || iter > KM_MAX_KDF_ITERATIONS) {
            km_fail(st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                    "%s: the private key asks for %ld key derivation iterations, more than the %ld allowed",
                    ks->path, iter, KM_MAX_KDF_ITERATIONS);
            goto done;
        }
    }
    pkey = PEM_read_bio_PrivateKey_ex(in, NULL, give_password, (void *)password, libctx, NULL);
    if (pkey == NULL) {
        km_fail(st, encrypted ? KAFKA_MTLS_R_WRONG_PASSWORD : KAFKA_MTLS_R_CORRUPT,
                encrypted ? "%s: the password does not decrypt the private key"
                          : "%s: unreadable private key", ks->path);
        goto done;
    }
    if ((p8 = EVP_PKEY2PKCS8(pkey)) == NULL || (len = i2d_PKCS8_PRIV_KEY_INFO(p8, &out)) <= 0) {
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "%s: cannot encode the private key", ks->path);
        goto done;
    }
    *der = out;
    *der_len = (size_t)len;
    ok = 1;
done:
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
    BIO_free(in);
    ERR_pop_to_mark();
    return ok;
}
