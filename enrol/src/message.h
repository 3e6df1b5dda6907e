/* The JSON of the exchange, with json-c: the request bodies, the success
 * response's fields and an error response's message. */
#ifndef KME_MESSAGE_H
#define KME_MESSAGE_H

#include <stddef.h>
#include "kmtls/enrol.h"

struct json_object;

/* {"csr": csr_pem[, "ott": token][, "notAfter": not_after]} (token and
 * not_after may be NULL) into *out, *out_len bytes plus a NUL. The text
 * holds the token: free it with OPENSSL_clear_free(*out, *out_len + 1).
 * json-c's own copies of the token are cleansed before they are freed. */
km_enrol_reason kme_request_json(const char *csr_pem, const char *token,
                                 const char *not_after, char **out, size_t *out_len,
                                 char *err, size_t n);

/* The certificate fields of a success response, borrowed from root. */
typedef struct kme_certs_json {
    struct json_object *root;
    const char *crt;
    size_t crt_len;
    const char *ca;            /* NULL when the response has no "ca" */
    size_t ca_len;
    size_t chain_len;          /* 1 .. KM_ENROL_MAX_CHAIN */
    const char *chain[KM_ENROL_MAX_CHAIN];
    size_t chain_lens[KM_ENROL_MAX_CHAIN];
} kme_certs_json;

/* Parses body[len] (body[len] must be '\0'): strict JSON, UTF-8, one
 * object, nothing but whitespace after it, with "crt" a string,
 * "certChain" an array of 1..KM_ENROL_MAX_CHAIN strings and "ca", if
 * present, a string. Other members ("tlsOptions") are ignored.
 * KM_ENROL_BAD_RESPONSE names the field or the JSON error in err[n]. */
km_enrol_reason kme_parse_certs(const char *body, size_t len, kme_certs_json *out,
                                char *err, size_t n);
void kme_certs_json_clear(kme_certs_json *c);

/* The "message" of an error response {"status", "message"} into msg[n],
 * one line, without step-ca's generic lead-ins ("The request was forbidden
 * by the certificate authority: ") and without a final '.'; a body that is
 * not such JSON is quoted (cut, non-ASCII bytes as '?'); "" for an empty
 * body. Every occurrence of secret (the token, when one was sent; NULL
 * for none) is replaced by "[token]" before anything is cut, so that a
 * service echoing the request cannot put a secret into a log. body[len]
 * must be '\0'. */
void kme_error_message(const char *body, size_t len, const char *secret,
                       char *msg, size_t n);

#endif
