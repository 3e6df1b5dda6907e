/* JSON through json-c only: no hand-made escaping or parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json_object.h>
#include <json-c/json_tokener.h>
#include <openssl/crypto.h>

#include "fail.h"
#include "message.h"

/* json-c frees strings without cleansing them; these are the copies it
 * made of a secret, overwritten while they are still ours. The memory is
 * json-c's heap, not const: the const of its getters is an API promise
 * that we break only just before the put that frees it. */
static void cleanse_string(struct json_object *s)
{
    if (s != NULL)
        OPENSSL_cleanse((char *)json_object_get_string(s), (size_t)json_object_get_string_len(s));
}

static int add_string(struct json_object *o, const char *key, const char *value,
                      struct json_object **added)
{
    struct json_object *s = json_object_new_string(value);

    if (s == NULL)
        return 0;
    if (json_object_object_add(o, key, s) != 0) {
        cleanse_string(s);
        json_object_put(s);
        return 0;
    }
    if (added != NULL)
        *added = s;
    return 1;
}

km_enrol_reason kme_request_json(const char *csr_pem, const char *token,
                                 const char *not_after, char **out, size_t *out_len,
                                 char *err, size_t n)
{
    struct json_object *o = json_object_new_object(), *ott = NULL;
    const char *text;
    size_t len;
    int ok;

    *out = NULL;
    *out_len = 0;
    ok = o != NULL && add_string(o, "csr", csr_pem, NULL) &&
         (token == NULL || add_string(o, "ott", token, &ott)) &&
         (not_after == NULL || add_string(o, "notAfter", not_after, NULL));
    if (ok && (text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE)) != NULL) {
        len = strlen(text);
        if ((*out = OPENSSL_malloc(len + 1)) != NULL) {
            memcpy(*out, text, len + 1);
            *out_len = len;
        }
        /* json-c's rendering of the whole object, token included. */
        OPENSSL_cleanse((char *)text, len);
    }
    cleanse_string(ott);
    json_object_put(o);
    if (*out == NULL)
        return kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory building the request");
    return KM_ENROL_OK;
}

/* Strict JSON of one value; NULL with the cause in err[n]. */
static struct json_object *parse(const char *body, size_t len, char *err, size_t n)
{
    struct json_tokener *tok = json_tokener_new_ex(16);
    struct json_object *root;
    enum json_tokener_error e;
    size_t end;

    if (tok == NULL) {
        kme_fail(err, n, KM_ENROL_INTERNAL, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* The terminating NUL is passed too: json-c's way of saying "this is
     * the end of the input" (a truncated body is then an error, not a
     * request for more). */
    root = json_tokener_parse_ex(tok, body, (int)len + 1);
    e = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (root == NULL || e != json_tokener_success) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "the body is not JSON (%s at byte %zu)",
                 json_tokener_error_desc(e), end);
        json_object_put(root);
        return NULL;
    }
    if (end < len) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE,
                 "the body has data after its JSON value (byte %zu of %zu)", end, len);
        json_object_put(root);
        return NULL;
    }
    return root;
}

static int get_string(struct json_object *o, const char *key, const char **s, size_t *len)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return 0;
    *s = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    return 1;
}

km_enrol_reason kme_parse_certs(const char *body, size_t len, kme_certs_json *out,
                                char *err, size_t n)
{
    struct json_object *chain, *item;
    size_t count;

    memset(out, 0, sizeof(*out));
    if ((out->root = parse(body, len, err, n)) == NULL)
        return KM_ENROL_BAD_RESPONSE;
    if (!json_object_is_type(out->root, json_type_object)) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "the body is JSON but not an object");
        goto bad;
    }
    if (!get_string(out->root, "crt", &out->crt, &out->crt_len)) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "\"crt\" is missing or not a string");
        goto bad;
    }
    if (json_object_object_get_ex(out->root, "ca", NULL) &&
        !get_string(out->root, "ca", &out->ca, &out->ca_len)) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "\"ca\" is not a string");
        goto bad;
    }
    if (!json_object_object_get_ex(out->root, "certChain", &chain) ||
        !json_object_is_type(chain, json_type_array)) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "\"certChain\" is missing or not an array");
        goto bad;
    }
    count = json_object_array_length(chain);
    if (count == 0 || count > KM_ENROL_MAX_CHAIN) {
        kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "\"certChain\" has %zu certificates "
                 "(1 to %d are accepted)", count, KM_ENROL_MAX_CHAIN);
        goto bad;
    }
    for (size_t i = 0; i < count; i++) {
        item = json_object_array_get_idx(chain, i);
        if (!json_object_is_type(item, json_type_string)) {
            kme_fail(err, n, KM_ENROL_BAD_RESPONSE, "certChain[%zu] is not a string", i);
            goto bad;
        }
        out->chain[i] = json_object_get_string(item);
        out->chain_lens[i] = (size_t)json_object_get_string_len(item);
    }
    out->chain_len = count;
    return KM_ENROL_OK;
bad:
    kme_certs_json_clear(out);
    return KM_ENROL_BAD_RESPONSE;
}

void kme_certs_json_clear(kme_certs_json *c)
{
    json_object_put(c->root);
    memset(c, 0, sizeof(*c));
}

/* s with every secret replaced by "[token]"; malloc'd, NULL on no memory. */
static char *scrub(const char *s, const char *secret)
{
    size_t slen = secret != NULL ? strlen(secret) : 0, cap = strlen(s) + 1, len = 0;
    char *out = malloc(cap), *grown;
    const char *hit;

    if (out == NULL)
        return NULL;
    while (slen > 0 && (hit = strstr(s, secret)) != NULL) {
        size_t keep = (size_t)(hit - s);

        /* "[token]" is 7 bytes; a secret is shorter only in tests. */
        if (len + keep + 8 > cap) {
            cap = len + keep + 8 + strlen(hit);
            if ((grown = realloc(out, cap)) == NULL) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, s, keep);
        memcpy(out + len + keep, "[token]", 7);
        len += keep + 7;
        s = hit + slen;
    }
    if (len + strlen(s) + 1 > cap) {
        cap = len + strlen(s) + 1;
        if ((grown = realloc(out, cap)) == NULL) {
            free(out);
            return NULL;
        }
        out = grown;
    }
    strcpy(out + len, s);
    return out;
}

/* step-ca's generic lead-ins, which add nothing to our own words. */
static const char *const lead_ins[] = {
    "The request was forbidden by the certificate authority: ",
    "The request could not be completed: ",
};

void kme_error_message(const char *body, size_t len, const char *secret,
                       char *msg, size_t n)
{
    struct json_object *root;
    const char *text = NULL;
    size_t text_len = 0, cut;
    char ignored[8], *clean;

    if (n == 0)
        return;
    msg[0] = '\0';
    if (len == 0)
        return;
    root = parse(body, len, ignored, sizeof(ignored));
    if (root != NULL && json_object_is_type(root, json_type_object) &&
        get_string(root, "message", &text, &text_len) && strlen(text) == text_len) {
        for (size_t i = 0; i < sizeof(lead_ins) / sizeof(lead_ins[0]); i++)
            if (strncmp(text, lead_ins[i], strlen(lead_ins[i])) == 0)
                text += strlen(lead_ins[i]);
        clean = scrub(text, secret);
    } else {
        /* Not step-ca's error shape (a proxy's HTML page, ...): quote its
         * start. An embedded NUL ends the quote. */
        clean = scrub(body, secret);
        if (clean != NULL)
            for (char *p = clean; *p != '\0'; p++)
                if ((unsigned char)*p >= 0x80)
                    *p = '?';
    }
    json_object_put(root);
    if (clean == NULL) {
        snprintf(msg, n, "(out of memory reading the message)");
        return;
    }
    cut = strlen(clean);
    while (cut > 0 && (clean[cut - 1] == '.' || clean[cut - 1] == ' ' || clean[cut - 1] == '\n' ||
                       clean[cut - 1] == '\r' || clean[cut - 1] == '\t'))
        cut--;
    clean[cut] = '\0';
    snprintf(msg, n, "%s", clean);
    kme_one_line(msg);
    free(clean);
}
