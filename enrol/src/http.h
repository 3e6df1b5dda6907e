/* One HTTPS POST to the service over libcurl, and what came back. */
#ifndef KME_HTTP_H
#define KME_HTTP_H

#include <stddef.h>
#include <openssl/x509.h>
#include "kmtls/enrol.h"

typedef struct kme_http_request {
    const char *url;           /* the endpoint, https (url.c made it) */
    const char *ca_file;       /* for libcurl's own loading; roots decide */
    X509_STORE *roots;         /* the only roots that verify the service */
    long timeout_ms;           /* the whole exchange */
    const char *body;          /* JSON; NULL for an empty body */
    size_t body_len;
    X509 *client_cert;         /* mutual TLS; all three NULL for none */
    EVP_PKEY *client_key;
    STACK_OF(X509) *client_chain;
} kme_http_request;

typedef struct kme_http_response {
    long status;               /* the HTTP status */
    char *body;                /* NUL-terminated; len bytes without it */
    size_t len;
} kme_http_response;

/* Sends the request and reads the response (any status), at most
 * KM_ENROL_MAX_RESPONSE bytes of body, HTTP/1.1 over TLS >= 1.2, never
 * through a proxy, never following a redirect. KM_ENROL_OK means an HTTP
 * response arrived (resp filled; kme_http_response_clear it); otherwise
 * the reason (UNREACHABLE, TIMEOUT, TLS, CERT_REFUSED, BAD_RESPONSE for
 * an oversized or non-HTTP answer, INTERNAL) and the cause, without the
 * URL, in err[n]. Thread-safe. */
km_enrol_reason kme_http_post(const kme_http_request *req, kme_http_response *resp,
                              char *err, size_t n);

void kme_http_response_clear(kme_http_response *resp);

/* curl_global_init, once per process, and the check that libcurl is built
 * on OpenSSL 3 (the SSL_CTX hook hands it OpenSSL objects). Called by
 * kme_http_post; 0 with the cause in err[n] when libcurl cannot be used. */
int kme_http_global_init(char *err, size_t n);

#endif
