/* Key types: "rsa:2048", "rsa:3072", "rsa:4096", "ec:P-256", "ec:P-384",
 * "ed25519" (case-insensitive), and generating a key of that type. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "issue_internal.h"
#include "kafka-mtls.h"

static const struct {
    const char *name;
    km_key_spec spec;
} key_types[] = {
    { "rsa:2048", { "RSA", 2048, NULL } },
    { "rsa:3072", { "RSA", 3072, NULL } },
    { "rsa:4096", { "RSA", 4096, NULL } },
    { "ec:P-256", { "EC", 0, "P-256" } },
    { "ec:P-384", { "EC", 0, "P-384" } },
    { "ed25519", { "ED25519", 0, NULL } },
};

int km_key_spec_parse(const char *spec, km_key_spec *out, char *err, size_t n)
{
    if (spec == NULL || spec[0] == '\0')
        spec = KAFKA_MTLS_KEY_TYPE_DEFAULT;
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strcasecmp(spec, key_types[i].name) == 0) {
            if (out != NULL)
                *out = key_types[i].spec;
            return 1;
        }
    snprintf(err, n, "unknown key type '%s' (use rsa:2048, rsa:3072, rsa:4096, ec:P-256, ec:P-384 "
             "or ed25519)", spec);
    return 0;
}

int km_key_type_check(const char *spec, km_status *st)
{
    char err[256];

    return km_key_spec_parse(spec, NULL, err, sizeof(err)) || km_fail(st, KAFKA_MTLS_R_BAD_REQUEST, "%s", err);
}

EVP_PKEY *km_key_generate(OSSL_LIB_CTX *libctx, const km_key_spec *ks, km_status *st)
{
    EVP_PKEY *key;

    ERR_set_mark();
    if (ks->rsa_bits != 0)
        key = EVP_PKEY_Q_keygen(libctx, NULL, "RSA", ks->rsa_bits);
    else if (ks->curve != NULL)
        key = EVP_PKEY_Q_keygen(libctx, NULL, "EC", ks->curve);
    else
        key = EVP_PKEY_Q_keygen(libctx, NULL, ks->algorithm);
    ERR_pop_to_mark();
    if (key == NULL)
        km_fail(st, KAFKA_MTLS_R_INTERNAL, "cannot generate a %s key%s%s (is the default provider loaded?)",
                ks->algorithm, ks->curve ? " on " : "", ks->curve ? ks->curve : "");
    return key;
}
