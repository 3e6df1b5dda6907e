/*
 * JKS / JCEKS reader: km_read_jks on the input as it is (framing, trailer
 * check, the wrong-password/modified-file probe), then, if the integrity
 * trailer is what stopped it, again with the trailer recomputed for the
 * seeds' password so that mutations reach the entry decoder; every key
 * entry of an accepted store is decrypted (km_decrypt_key ->
 * km_decrypt_jks_key: Sun's protector and PBEWithMD5AndTripleDES).
 *
 * Input: a keystore file as keytool writes it (make-corpus.sh: jks/).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "formats.h"
#include "fuzz_common.h"
#include "kafka-mtls.h"
#include "readers.h"

static int read_once(const unsigned char *buf, size_t len)
{
    OSSL_LIB_CTX *libctx = kmf_libctx();
    km_keystore *ks = km_keystore_new("fuzz.jks");
    km_status st = { 0 };
    int ok;

    if (ks == NULL)
        abort();
    ok = km_read_jks(libctx, buf, len, kmf_password(), ks, &st);
    kmf_check_status("km_read_jks", ok, &st);
    kmf_check_error_queue("km_read_jks");
    if (ok) {
        kmf_check_keystore(ks);
        if (ks->format != KM_FORMAT_JKS && ks->format != KM_FORMAT_JCEKS)
            kmf_die("km_read_jks: format %s", km_format_name(ks->format));
        for (size_t i = 0; i < ks->nkeys; i++)
            if (ks->keys[i].kind != KM_KEY_JKS && ks->keys[i].kind != KM_KEY_JCEKS)
                kmf_die("km_read_jks: key kind %d", (int)ks->keys[i].kind);
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
        unsigned char *copy = OPENSSL_memdup(data, size);

        if (copy != NULL && kmf_jks_fix_trailer(copy, size, kmf_password()))
            (void)read_once(copy, size);
        OPENSSL_free(copy);
    }
    return 0;
}
