/* The format table: which reader reads a file, which decrypts its keys. */
#include <openssl/crypto.h>

#include "formats.h"
#include "kafka-mtls.h"
#include "readers.h"

static const km_format_ops formats[] = {
    { KM_FORMAT_PKCS12, 1, km_read_pkcs12, km_decrypt_p12_key },
    { KM_FORMAT_JKS, 1, km_read_jks, km_decrypt_jks_key },
    { KM_FORMAT_JCEKS, 1, km_read_jks, km_decrypt_jks_key },
    { KM_FORMAT_PEM, 0, km_read_pem, km_decrypt_pem_key },
};

const km_format_ops *km_format_ops_of(km_format format)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (formats[i].format == format)
            return &formats[i];
    return NULL;
}

int km_decrypt_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                   const km_secret *password, unsigned char **der, size_t *der_len, km_status *st)
{
    const km_format_ops *ops = km_format_ops_of(ks->format);

    if (key->kind == KM_KEY_PKCS8) {
        *der = OPENSSL_memdup(key->blob, key->blob_len);
        *der_len = key->blob_len;
        return *der != NULL ? 1 : km_fail(st, KAFKA_MTLS_R_INTERNAL, "out of memory");
    }
    if (ops == NULL)
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "%s: a key of no known format", ks->path);
    return ops->decrypt(libctx, ks, key, password, der, der_len, st);
}
