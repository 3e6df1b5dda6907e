/*
 * PKCS#12 reader: km_read_pkcs12 on the input as it is (DER, MAC check, the
 * wrong-password/modified-file probe, safes and bags), then, if the MAC is
 * what stopped it, again with the MAC recomputed for the seeds' password so
 * that mutations of the safes reach the bag walker; every key entry of an
 * accepted store is decrypted (km_decrypt_key -> km_decrypt_p12_key, or a
 * plain keyBag).
 *
 * Input: a PKCS#12 file (make-corpus.sh: pkcs12/ — keytool, openssl pkcs12
 * with and without -legacy, unencrypted safes, no MAC).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "fuzz_common.h"
#include "kafka-mtls.h"
#include "readers.h"

static int read_once(const unsigned char *buf, size_t len)
{
    OSSL_LIB_CTX *libctx = kmf_libctx();
    km_keystore *ks = km_keystore_new("fuzz.p12");
    km_status st = { 0 };
    int ok;

    if (ks == NULL)
        abort();
    ok = km_read_pkcs12(libctx, buf, len, kmf_password(), ks, &st);
    kmf_check_status("km_read_pkcs12", ok, &st);
    kmf_check_error_queue("km_read_pkcs12");
    if (ok) {
        kmf_check_keystore(ks);
        for (size_t i = 0; i < ks->nkeys; i++)
            if (ks->keys[i].kind != KM_KEY_P12_BAG && ks->keys[i].kind != KM_KEY_PKCS8)
                kmf_die("km_read_pkcs12: key kind %d", (int)ks->keys[i].kind);
        kmf_decrypt_all(libctx, ks, kmf_password());
    }
    km_keystore_free(ks);
    ERR_clear_error();
    return ok ? 0 : st.reason;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int reason = read_once(data, size);

    if (reason == KAFKA_MTLS_R_WRONG_PASSWORD || reason == KAFKA_MTLS_R_INTEGRITY) {
        size_t len = 0;
        unsigned char *fixed = kmf_p12_fix_mac(data, size, kmf_password(), &len);

        if (fixed != NULL)
            (void)read_once(fixed, len);
        OPENSSL_free(fixed);
    }
    return 0;
}
