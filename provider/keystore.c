/* Ownership of the parsed keystore model. */
#include <limits.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "kafka-mtls.h"
#include "keystore.h"

int km_ders_add(km_ders *d, const unsigned char *der, size_t len)
{
    km_der *v = OPENSSL_realloc(d->v, (d->n + 1) * sizeof(*v));
    unsigned char *copy;

    if (v == NULL)
        return 0;
    d->v = v;
    if ((copy = OPENSSL_memdup(der, len)) == NULL)
        return 0;
    v[d->n++] = (km_der){ copy, len };
    return 1;
}

int km_ders_add_x509(km_ders *d, X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der), ok = len > 0 && km_ders_add(d, der, (size_t)len);

    OPENSSL_free(der);
    return ok;
}

int km_ders_has(const km_ders *d, const km_der *c)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].len == c->len && memcmp(d->v[i].der, c->der, c->len) == 0)
            return 1;
    return 0;
}

void km_ders_clear(km_ders *d)
{
    for (size_t i = 0; i < d->n; i++)
        OPENSSL_free(d->v[i].der);
    OPENSSL_free(d->v);
    d->v = NULL;
    d->n = 0;
}

int km_der_is_certificate_shaped(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    ASN1_SEQUENCE_ANY *seq;
    int ok;

    if (len == 0 || len > LONG_MAX || der[0] != (V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED))
        return 0;
    /* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
    ok = (seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len)) != NULL && p == der + len &&
         sk_ASN1_TYPE_num(seq) == 3 && ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 0)) == V_ASN1_SEQUENCE &&
         ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 1)) == V_ASN1_SEQUENCE &&
         ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 2)) == V_ASN1_BIT_STRING;
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return ok;
}

X509 *km_der_x509(OSSL_LIB_CTX *libctx, const km_der *c)
{
    const unsigned char *p = c->der;
    X509 *x = X509_new_ex(libctx, NULL);

    if (x == NULL || c->len > LONG_MAX)
        goto err;
    if (d2i_X509(&x, &p, (long)c->len) != NULL && p == c->der + c->len)
        return x;
err:
    X509_free(x); /* a failed d2i_X509 has freed it and set it to NULL */
    return NULL;
}

km_keystore *km_keystore_new(const char *path)
{
    km_keystore *ks = OPENSSL_zalloc(sizeof(*ks));

    if (ks != NULL)
        ks->path = path;
    return ks;
}

static void key_entry_clear(km_key_entry *k)
{
    OPENSSL_free(k->alias);
    OPENSSL_clear_free(k->blob, k->blob_len);
    km_ders_clear(&k->chain);
}

void km_keystore_free(km_keystore *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->nkeys; i++)
        key_entry_clear(&ks->keys[i]);
    OPENSSL_free(ks->keys);
    km_ders_clear(&ks->trusted);
    OPENSSL_free(ks);
}

km_key_entry *km_keystore_add_key(km_keystore *ks, char *alias, km_key_kind kind,
                                  unsigned char *blob, size_t blob_len,
                                  km_ders *chain)
{
    km_key_entry *keys = OPENSSL_realloc(ks->keys, (ks->nkeys + 1) * sizeof(*keys));

    if (keys == NULL)
        return NULL;
    ks->keys = keys;
    keys[ks->nkeys] = (km_key_entry){ .alias = alias, .kind = kind, .blob = blob, .blob_len = blob_len };
    if (chain != NULL) {
        keys[ks->nkeys].chain = *chain;
        *chain = (km_ders){ 0 };
    }
    return &keys[ks->nkeys++];
}

int km_key_der(const PKCS8_PRIV_KEY_INFO *p8, const km_keystore *ks, unsigned char **der, size_t *der_len,
               km_status *st)
{
    unsigned char *out = NULL;
    int len = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, &out) : 0;

    if (len <= 0)
        return km_fail_crypto(st, KAFKA_MTLS_R_INTERNAL, "%s: cannot encode the private key", ks->path);
    *der = out;
    *der_len = (size_t)len;
    return 1;
}
