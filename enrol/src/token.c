/* What a one-time token says it is for: the "sub" claim of the JWT's
 * payload, read without verifying the signature. The service verifies the
 * token; the caller only needs to know which CN to put into the CSR, and
 * to refuse a mismatch with its own configuration while the token is still
 * unspent (step-ca spends a token even on a request it refuses). */
#include <string.h>
#include <json-c/json_object.h>
#include <json-c/json_tokener.h>
#include <openssl/crypto.h>

#include "args.h"
#include "fail.h"

/* X.520's upper bound for a common name, as km_enrol_csr_new's. */
#define SUB_MAX 64

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Unpadded base64url (RFC 7515) in[len] into out (at least len bytes);
 * the decoded length, or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out)
{
    unsigned long acc = 0;
    size_t bits = 0, o = 0;

    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

km_enrol_reason km_enrol_token_subject(const char *token, char *sub, size_t sub_n, char *err, size_t n)
{
    const char *dot1, *dot2;
    unsigned char *payload = NULL;
    struct json_tokener *tok = NULL;
    struct json_object *root = NULL, *v;
    const char *s;
    size_t plen = 0, slen;
    long dlen;
    km_enrol_reason r = KM_ENROL_BAD_ARGUMENT;

    if (sub_n > 0)
        sub[0] = '\0';
    if (token == NULL || !kme_token_ok(token) || (dot1 = strchr(token, '.')) == NULL ||
        (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL)
        return kme_fail(err, n, r, "kmtls-enrol: the token is not a JWT (three base64url parts joined by '.')");
    plen = (size_t)(dot2 - dot1 - 1);
    if ((payload = OPENSSL_malloc(plen + 1)) == NULL)
        return kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
    if ((dlen = b64url_decode(dot1 + 1, plen, payload)) <= 0) {
        kme_fail(err, n, r, "kmtls-enrol: the token's payload is not base64url");
        goto done;
    }
    if ((tok = json_tokener_new_ex(8)) == NULL) {
        r = kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
        goto done;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, (const char *)payload, (int)dlen);
    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != (size_t)dlen || !json_object_is_type(root, json_type_object)) {
        kme_fail(err, n, r, "kmtls-enrol: the token's payload is not a JSON object");
        goto done;
    }
    if (!json_object_object_get_ex(root, "sub", &v) || !json_object_is_type(v, json_type_string)) {
        kme_fail(err, n, r, "kmtls-enrol: the token has no \"sub\" (subject) claim");
        goto done;
    }
    s = json_object_get_string(v);
    slen = (size_t)json_object_get_string_len(v);
    for (size_t i = 0; i < slen; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            kme_fail(err, n, r, "kmtls-enrol: the token's subject holds a control character");
            goto done;
        }
    if (slen == 0 || slen > SUB_MAX || slen >= sub_n) {
        kme_fail(err, n, r, "kmtls-enrol: the token's subject has %zu characters (1 to %d)", slen, SUB_MAX);
        goto done;
    }
    memcpy(sub, s, slen + 1);
    r = KM_ENROL_OK;
done:
    json_object_put(root);
    json_tokener_free(tok);
    /* the payload is not the whole token, but it is part of a secret */
    OPENSSL_clear_free(payload, plen + 1);
    return r;
}
