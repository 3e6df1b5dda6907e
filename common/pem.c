/* km_pem_each: PEM_read_bio until libcrypto says "no start line". */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "kmtls/pem.h"

static km_pem_kind kind_of(const char *name, const char *header)
{
    size_t n = strlen(name);

    if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
        strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
        return KM_PEM_CERT;
    if (n < 11 || strcmp(name + n - 11, "PRIVATE KEY") != 0)
        return KM_PEM_OTHER;
    /* PKCS#8 says so in its name, a traditional key in its Proc-Type header */
    return strcmp(name, PEM_STRING_PKCS8) == 0 || strstr(header, "ENCRYPTED") != NULL ? KM_PEM_ENCRYPTED_KEY
                                                                                      : KM_PEM_KEY;
}

int km_pem_each(const unsigned char *buf, size_t len, int (*each)(const km_pem_block *b, void *arg),
                void *arg, int *blocks)
{
    BIO *in = len <= (size_t)0x7fffffff ? BIO_new_mem_buf(buf, (int)len) : NULL;
    int result = KM_PEM_DAMAGED, n = 0;

    ERR_set_mark();
    while (in != NULL) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dlen = 0;
        int go;

        if (!PEM_read_bio(in, &name, &header, &data, &dlen)) {
            /* the end of the text reads as "no start line"; anything else
             * is a damaged block */
            if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE && n > 0)
                result = KM_PEM_DONE;
            break;
        }
        km_pem_block b = { .number = ++n, .kind = kind_of(name, header), .name = name, .header = header,
                           .data = data, .len = dlen };
        go = each(&b, arg);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(data, dlen > 0 ? (size_t)dlen : 0);
        if (!go) {
            result = KM_PEM_STOPPED;
            break;
        }
    }
    BIO_free(in);
    ERR_pop_to_mark();
    if (blocks != NULL)
        *blocks = n;
    return result;
}

X509 *km_pem_cert(OSSL_LIB_CTX *libctx, const km_pem_block *b)
{
    const unsigned char *p = b->data;
    X509 *x = X509_new_ex(libctx, NULL);

    if (x == NULL)
        return NULL;
    if (strcmp(b->name, PEM_STRING_X509_TRUSTED) == 0 ? d2i_X509_AUX(&x, &p, b->len) == NULL
                                                       : d2i_X509(&x, &p, b->len) == NULL) {
        /* a failed d2i frees x and sets it to NULL, but d2i_X509_AUX keeps
         * a certificate it was given when only the trailing aux data is bad */
        X509_free(x);
        return NULL;
    }
    return x;
}

typedef struct certs_read {
    OSSL_LIB_CTX *libctx;
    STACK_OF(X509) *certs;
    int damaged;
} certs_read;

static int take_cert(const km_pem_block *b, void *arg)
{
    certs_read *r = arg;
    X509 *x;

    if (b->kind != KM_PEM_CERT)
        return 1;
    if ((x = km_pem_cert(r->libctx, b)) == NULL || !sk_X509_push(r->certs, x)) {
        r->damaged = x == NULL;
        X509_free(x);
        if (x != NULL) { /* out of memory */
            sk_X509_pop_free(r->certs, X509_free);
            r->certs = NULL;
        }
        return 0;
    }
    return 1;
}

STACK_OF(X509) *km_pem_certs(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len, int *result)
{
    certs_read r = { libctx, sk_X509_new_null(), 0 };
    int done = KM_PEM_DAMAGED;

    ERR_set_mark();
    if (r.certs != NULL)
        done = km_pem_each(buf, len, take_cert, &r, NULL);
    ERR_pop_to_mark();
    if (result != NULL)
        *result = done == KM_PEM_DONE && !r.damaged ? KM_PEM_DONE : KM_PEM_DAMAGED;
    return r.certs;
}

typedef struct pw_arg {
    const char *password;
    size_t len;
    int asked;
} pw_arg;

/* Never prompts: without a password an encrypted key is not read. */
static int give_password(char *buf, int size, int rwflag, void *u)
{
    pw_arg *a = u;

    (void)rwflag;
    a->asked = 1;
    if (a->password == NULL || a->len > (size_t)size)
        return -1;
    memcpy(buf, a->password, a->len);
    return (int)a->len;
}

EVP_PKEY *km_pem_private_key(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                             const char *password, size_t pw_len, int *asked)
{
    BIO *in = len <= (size_t)0x7fffffff ? BIO_new_mem_buf(buf, (int)len) : NULL;
    pw_arg arg = { password, pw_len, 0 };
    EVP_PKEY *key = in != NULL ? PEM_read_bio_PrivateKey_ex(in, NULL, give_password, &arg, libctx, NULL) : NULL;

    BIO_free(in);
    if (asked != NULL)
        *asked = arg.asked;
    return key;
}
