/* Ownership of the parsed keystore model. */
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "keystore.h"

void km_certs_free(STACK_OF(X509) *sk)
{
    sk_X509_pop_free(sk, X509_free);
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
    km_certs_free(k->chain);
}

void km_keystore_free(km_keystore *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->nkeys; i++)
        key_entry_clear(&ks->keys[i]);
    OPENSSL_free(ks->keys);
    km_certs_free(ks->trusted);
    OPENSSL_free(ks);
}

km_key_entry *km_keystore_add_key(km_keystore *ks, char *alias, km_key_kind kind,
                                  unsigned char *blob, size_t blob_len,
                                  STACK_OF(X509) *chain)
{
    km_key_entry *keys = OPENSSL_realloc(ks->keys, (ks->nkeys + 1) * sizeof(*keys));

    if (keys == NULL)
        return NULL;
    ks->keys = keys;
    keys[ks->nkeys] = (km_key_entry){ .alias = alias, .kind = kind, .blob = blob,
                                      .blob_len = blob_len, .chain = chain };
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
