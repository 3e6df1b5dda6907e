/*
 * Password files: the input is written to a file on tmpfs and read with
 * km_read_password_at (bounded read, one line, trailing "\n" / "\r\n"
 * dropped, empty and multi-line files refused); an accepted password is
 * then encoded as Java hashes it (km_jks_password_utf16be: strict UTF-8 to
 * UTF-16BE with surrogate pairs).
 *
 * Input: a password file's bytes (make-corpus.sh: password/).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <fcntl.h>

#include "fuzz_common.h"
#include "jks_protect.h"
#include "kafka-mtls.h"
#include "kmtls/files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[PATH_MAX];
    km_secret pw = { 0 };
    km_status st = { 0 };
    int ok;

    if (path[0] == '\0')
        snprintf(path, sizeof(path), "%s/client_creds", kmf_tmpdir());
    kmf_write_file(path, data, size);
    ok = km_read_password_at(AT_FDCWD, path, path, KAFKA_MTLS_R_NOT_READY, 0, &pw, &st);
    kmf_check_status("km_read_password_at", ok, &st);
    if (ok) {
        size_t expect = size;
        unsigned char *pw16 = NULL;
        size_t pw16_len = 0;
        int conv;

        if (expect > 0 && data[expect - 1] == '\n')
            expect--;
        if (expect > 0 && data[expect - 1] == '\r')
            expect--;
        if (size > KM_MAX_PASSWORD_FILE)
            kmf_die("a %zu-byte password file was accepted", size);
        if (pw.data == NULL || pw.len != expect || memcmp(pw.data, data, expect) != 0 ||
            pw.data[pw.len] != '\0')
            kmf_die("password %zu bytes, expected the first %zu bytes of the file", pw.len, expect);
        if (memchr(pw.data, '\n', pw.len) != NULL)
            kmf_die("a password with a newline was accepted");
        conv = km_jks_password_utf16be(&pw, &pw16, &pw16_len);
        if (conv == 1) {
            if (pw16_len % 2 != 0 || pw16_len > 2 * pw.len)
                kmf_die("UTF-16BE password of %zu bytes from %zu bytes", pw16_len, pw.len);
            km_jks_pw16_free(pw16, &pw);
        } else if (conv != 0) {
            kmf_die("km_jks_password_utf16be returned %d", conv);
        }
    } else if (pw.data != NULL) {
        kmf_die("km_read_password_at failed but set a password");
    }
    km_secret_clear(&pw);
    ERR_clear_error();
    return 0;
}
