/*
 * PEM reader: km_read_pem (certificate and key blocks of any kind, trusted
 * certificates, text around blocks), then every key it kept is decrypted
 * with the seeds' password (km_decrypt_key -> km_decrypt_pem_key: PKCS#8,
 * encrypted PKCS#8, traditional RSA/EC keys with and without DEK-Info).
 *
 * Input: a PEM file (make-corpus.sh: pem/ — tls.crt, tls.key, ca.crt,
 * svid*.pem, bundles, encrypted keys).
 */
#include <stdlib.h>
#include <openssl/err.h>

#include "fuzz_common.h"
#include "kafka-mtls.h"
#include "readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    OSSL_LIB_CTX *libctx = kmf_libctx();
    km_keystore *ks = km_keystore_new("fuzz.pem");
    km_status st = { 0 };
    int ok;

    if (ks == NULL)
        abort();
    ok = km_read_pem(libctx, data, size, NULL, ks, &st);
    kmf_check_status("km_read_pem", ok, &st);
    kmf_check_error_queue("km_read_pem");
    if (ok) {
        kmf_check_keystore(ks);
        for (size_t i = 0; i < ks->nkeys; i++)
            if (ks->keys[i].kind != KM_KEY_PEM && ks->keys[i].kind != KM_KEY_PKCS8)
                kmf_die("km_read_pem: key kind %d", (int)ks->keys[i].kind);
        kmf_decrypt_all(libctx, ks, kmf_password());
    }
    km_keystore_free(ks);
    ERR_clear_error();
    return 0;
}
