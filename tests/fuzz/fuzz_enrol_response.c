/*
 * The enrolment client's response reader (enrol/src/response.c,
 * kme_response_chain: JSON through json-c, PEM and DER through libcrypto,
 * the chain's links), the checks on an accepted chain (checks.c,
 * kme_check_chain) and the error-body reader (message.c,
 * kme_error_message), without a network: the input is what a step-ca
 * would send as the body of its answer.
 *
 * Invariants: status and chain agree; an accepted chain has 1..8
 * certificates; a refusal is BAD_RESPONSE (or INTERNAL, never otherwise)
 * with a one-line message; no message ever holds the token; libcrypto's
 * error queue is left empty.
 *
 * Input: a response body (make-enrol-corpus.sh: enrol_response/), at most
 * KM_ENROL_MAX_RESPONSE bytes (the transport refuses more).
 * Self-contained (no fuzz_common): tests/fuzz/build.sh builds it in a
 * binary of its own, with enrol/src's fail, message, response and checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "checks.h"
#include "kmtls/enrol.h"
#include "message.h"
#include "response.h"

/* What a sign request carried; an echo of it must never reach a message. */
#define TOKEN "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJDYWxsaXN0byJ9.c2lnbmF0dXJl"

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_enrol_response: %s: %s\n", what, detail);
    abort();
}

static void one_line(const char *what, const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);

    if (len == cap)
        die(what, "not NUL-terminated within its buffer");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            die(what, "a control character in the message");
    if (strstr(s, TOKEN) != NULL)
        die(what, "the token is in the message");
}

static void queue_empty(const char *after)
{
    if (ERR_peek_error() != 0) {
        ERR_print_errors_fp(stderr);
        die(after, "left an error on libcrypto's queue");
    }
}

/* An accepted chain through the identity and trust checks: the leaf's own
 * key is expected (so the later checks are reached), the last certificate
 * is the only root. */
static void check_chain(STACK_OF(X509) *chain)
{
    X509 *leaf = sk_X509_value(chain, 0);
    X509_STORE *roots = X509_STORE_new();
    kme_expect e = { X509_get0_pubkey(leaf), "Callisto kafka-producer", leaf, roots, "root" };
    char err[512];
    km_enrol_reason r;

    if (roots == NULL || !X509_STORE_add_cert(roots, sk_X509_value(chain, sk_X509_num(chain) - 1)))
        die("setup", "X509_STORE");
    if (e.key == NULL) {  /* a key type libcrypto cannot load */
        X509_STORE_free(roots);
        ERR_clear_error();
        return;
    }
    r = kme_check_chain(chain, &e, err, sizeof(err));
    if (r != KM_ENROL_OK && r != KM_ENROL_BAD_RESPONSE && r != KM_ENROL_INTERNAL)
        die("kme_check_chain", km_enrol_reason_name(r));
    if (r != KM_ENROL_OK)
        one_line("kme_check_chain", err, sizeof(err));
    X509_STORE_free(roots);
    queue_empty("kme_check_chain");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *chain = NULL;
    char err[512], msg[300], *body;
    km_enrol_reason r;

    if (size > KM_ENROL_MAX_RESPONSE)
        return 0;
    if ((body = malloc(size + 1)) == NULL)
        abort();
    memcpy(body, data, size);
    body[size] = '\0';  /* as the transport hands it over */

    err[0] = '\0';
    r = kme_response_chain(body, size, &chain, err, sizeof(err));
    if ((r == KM_ENROL_OK) != (chain != NULL))
        die("kme_response_chain", "status and chain disagree");
    if (r == KM_ENROL_OK) {
        if (sk_X509_num(chain) < 1 || sk_X509_num(chain) > KM_ENROL_MAX_CHAIN)
            die("kme_response_chain", "chain length out of bounds");
        for (int i = 0; i < sk_X509_num(chain); i++)
            if (sk_X509_value(chain, i) == NULL)
                die("kme_response_chain", "a NULL certificate");
        check_chain(chain);
    } else {
        if (r != KM_ENROL_BAD_RESPONSE && r != KM_ENROL_INTERNAL)
            die("kme_response_chain", km_enrol_reason_name(r));
        if (err[0] == '\0')
            die("kme_response_chain", "refused without a message");
        one_line("kme_response_chain", err, sizeof(err));
    }
    queue_empty("kme_response_chain");
    sk_X509_pop_free(chain, X509_free);

    kme_error_message(body, size, TOKEN, msg, sizeof(msg));
    one_line("kme_error_message", msg, sizeof(msg));
    queue_empty("kme_error_message");
    free(body);
    return 0;
}
