/*
 * keystore: URIs: km_uri_parse (scheme, "//" forms, absolute paths,
 * percent-escapes, parameters alias / part / password-file, repeats,
 * empties), with the invariants the rest of the provider relies on.
 *
 * Input: the URI text (up to the first NUL) (make-corpus.sh: uri/).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "kafka-mtls.h"
#include "fuzz_common.h"
#include "uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = OPENSSL_strndup((const char *)data, size);
    km_uri u;
    km_status st = { 0 };
    int ok;

    if (text == NULL)
        abort();
    ok = km_uri_parse(text, &u, &st);
    kmf_check_status("km_uri_parse", ok, &st);
    if (ok) {
        size_t n;

        if (!km_uri_has_scheme(text))
            kmf_die("a URI without the scheme was accepted");
        if (u.path == NULL || u.path[0] != '/')
            kmf_die("accepted a path that is not absolute: %s", u.path ? u.path : "(null)");
        n = strlen(u.path);
        if (n > 1 && u.path[n - 1] == '/')
            kmf_die("the path keeps a trailing '/': %s", u.path);
        if (u.password_file != NULL && u.password_file[0] != '/')
            kmf_die("relative password-file accepted: %s", u.password_file);
        if (u.alias != NULL && u.alias[0] == '\0')
            kmf_die("empty alias accepted");
        if ((unsigned)u.part > KM_PART_TRUSTSTORE)
            kmf_die("part %d", (int)u.part);
        km_uri_clear(&u);
    } else if (u.path != NULL || u.alias != NULL || u.password_file != NULL) {
        kmf_die("km_uri_parse failed but left allocations in the result");
    }
    OPENSSL_free(text);
    return 0;
}
