/* Ownership of the parsed keystore model and the per-format key dispatch. */
#include <string.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "keystore.h"

void km_secret_clear(km_secret *s)
{
    if (s == NULL)
        return;
    OPENSSL_clear_free(s->data, s->len);
    s->data = NULL;
    s->len = 0;
}

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

int km_decrypt_key(OSSL_LIB_CTX *libctx, const km_keystore *ks,
                   const km_key_entry *key, const km_secret *password,
                   unsigned char **der, size_t *der_len, km_status *st)
{
    switch (key->kind) {
    case KM_KEY_PKCS8:
        *der = OPENSSL_memdup(key->blob, key->blob_len);
        *der_len = key->blob_len;
        return *der != NULL ? 1 : km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    case KM_KEY_P12_BAG:
        return km_decrypt_p12_key(libctx, ks, key, password, der, der_len, st);
    case KM_KEY_JKS:
    case KM_KEY_JCEKS:
        return km_decrypt_jks_key(libctx, ks, key, password, der, der_len, st);
    case KM_KEY_PEM:
        return km_decrypt_pem_key(libctx, ks, key, password, der, der_len, st);
    }
    return km_fail(st, KAFKA_MTLS_R_INTERNAL, "%s: unknown key kind", ks->path);
}
