/*
 * kmtls-enrol: a client for a CA service (smallstep step-ca) that signs a
 * certificate request, so that no client holds the CA's key.
 *
 *   first enrolment   km_enrol_sign:  CSR + one-time token   POST /1.0/sign
 *   renewal, new key  km_enrol_rekey: CSR, mutual TLS with   POST /1.0/rekey
 *                                     the current certificate
 *   renewal, same key km_enrol_renew: mutual TLS only        POST /1.0/renew
 *
 * The private key never leaves the process: the CSR carries the public key,
 * and for mutual TLS the current key is handed to OpenSSL in memory (no
 * file, no PEM copy). Every answer is checked before it is returned (see
 * enrol/README.md, "What is checked"): a chain this library returns is the
 * CSR's key, certified for clientAuth, for the identity asked for, and it
 * verifies against the configured root.
 *
 * Thread-safe: calls may run at once from any threads (each call has its
 * own connection; libcurl is initialised once, on first use).
 *
 * Every function returns KM_ENROL_OK (0) or the reason it failed, and
 * writes into err[n] one line for a user that names the URL and the cause
 * (for HTTP errors the service's own message). err is always
 * NUL-terminated (when n > 0) and never holds a token or key bytes.
 */
#ifndef KMTLS_ENROL_H
#define KMTLS_ENROL_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum km_enrol_reason {
    KM_ENROL_OK = 0,
    /* The call is wrong and nothing was sent (NULL argument, http:// URL,
     * ca_file without a certificate, a CSR without a CN or with a bad
     * signature, a bad not_after, a key that is not the certificate's).
     * A token given to such a call is still unused. */
    KM_ENROL_BAD_ARGUMENT,
    /* No answer: the host cannot be resolved, nothing listens, or the
     * connection closed before a response. Retry later. If a sign request
     * had been sent when the connection broke, its token may be spent. */
    KM_ENROL_UNREACHABLE,
    /* No complete answer within timeout_ms. A sign request's token may be
     * spent (the service may have received it). */
    KM_ENROL_TIMEOUT,
    /* The TLS session with the service failed on our side: its certificate
     * does not verify against ca_file (unknown CA, expired, name mismatch),
     * or no common protocol version. Nothing was sent. Do not fall back to
     * anything: fix the URL or ca_file. */
    KM_ENROL_TLS,
    /* The service refused our client certificate with a TLS alert
     * (rekey/renew: expired, unknown CA, revoked). The current certificate
     * cannot renew itself: enrol again with km_enrol_sign and a new token. */
    KM_ENROL_CERT_REFUSED,
    /* HTTP 401: the token is expired, already used, or not from this
     * service's provisioner (sign), or the certificate may not be renewed
     * (rekey/renew). Get a new token. */
    KM_ENROL_UNAUTHORIZED,
    /* HTTP 400 or 403: the service refused this request (the CSR's name is
     * not the token's, a lifetime out of bounds, ...). A token is spent by
     * the refusal: fix the request and use a new token. */
    KM_ENROL_REFUSED,
    /* Any other HTTP status (redirects, 404, 405, 429, 5xx): the service is
     * not answering as step-ca does. Retry later or fix the URL. */
    KM_ENROL_SERVICE,
    /* A success status, but the body is not what step-ca sends, or the
     * certificate fails a check (err names the field or the check). The
     * certificate, if any, must not be used. */
    KM_ENROL_BAD_RESPONSE,
    /* Out of memory, a libcrypto or libcurl failure, or a libcurl that is
     * not built on OpenSSL 3. */
    KM_ENROL_INTERNAL,
} km_enrol_reason;

/* "OK", "BAD_ARGUMENT", ..., for logs; "UNKNOWN" for other values. */
const char *km_enrol_reason_name(km_enrol_reason reason);

/* Limits, enforced on every call. */
#define KM_ENROL_MAX_RESPONSE (256 * 1024)  /* response body bytes */
#define KM_ENROL_MAX_CHAIN 8                /* certificates in certChain */
#define KM_ENROL_DEFAULT_TIMEOUT_MS 10000L
#define KM_ENROL_MAX_TIMEOUT_MS 600000L

typedef struct km_enrol_service {
    /* The step-ca base URL: https://host[:port][/prefix]. /1.0/sign etc.
     * are appended. Only https; no user, password, query or fragment. */
    const char *url;
    /* PEM file: the root(s) that verify the service's TLS certificate. Only
     * these are trusted (the system's CA store is not used). */
    const char *ca_file;
    /* PEM file: the root(s) the issued chain must verify to. NULL: ca_file
     * (step-ca signs its TLS certificate and clients' with one root). This
     * root is what a truststore should hold; it is not in the response. */
    const char *chain_ca_file;
    /* Bound on the whole exchange (resolve + connect + TLS + request +
     * response), in ms. 0: KM_ENROL_DEFAULT_TIMEOUT_MS; at most
     * KM_ENROL_MAX_TIMEOUT_MS; negative is refused. */
    long timeout_ms;
} km_enrol_service;

/*
 * A CSR for key with the subject CN=common_name and nothing else, signed
 * with the key (SHA-256; Ed25519/Ed448 sign without a digest). This is the
 * request step-ca wants: the token binds the identity (subject CN and
 * SANs), the service adds O, C and the token's SANs, and a CSR SAN that
 * the token lacks would be refused. *csr is the caller's (X509_REQ_free).
 */
km_enrol_reason km_enrol_csr_new(EVP_PKEY *key, const char *common_name,
                                 X509_REQ **csr, char *err, size_t n);

/*
 * First enrolment: POST {url}/1.0/sign {"csr", "ott": token[, "notAfter"]}.
 *   csr        signed, with a subject CN (the token's subject); its key is
 *              the one the certificate must certify
 *   token      the one-time token (a JWT) for exactly this identity; it is
 *              spent by any answer of the service, success or refusal
 *   not_after  the lifetime asked for, a Go duration ("24h", "90m",
 *              "1h30m"), or NULL for the service's default
 * On KM_ENROL_OK, *chain is the leaf first, then the intermediates as the
 * service sent them (the root is not included); the caller frees it with
 * sk_X509_pop_free(*chain, X509_free). On failure *chain is NULL.
 * Checked: see the header comment; the leaf's subject CN is the CSR's.
 */
km_enrol_reason km_enrol_sign(const km_enrol_service *svc, X509_REQ *csr,
                              const char *token, const char *not_after,
                              STACK_OF(X509) **chain, char *err, size_t n);

/*
 * Renewal with a new key: POST {url}/1.0/rekey {"csr"} over mutual TLS
 * with current (the still-valid certificate), current_key (its private
 * key, in memory) and current_chain (intermediates to send with it, or
 * NULL). The service takes only the CSR's public key; the new certificate
 * keeps the current one's subject, SANs and lifetime length. Checked as
 * for sign, and: the subject (DER) and the SANs are the current
 * certificate's. *chain as for km_enrol_sign.
 */
km_enrol_reason km_enrol_rekey(const km_enrol_service *svc, X509_REQ *csr,
                               X509 *current, EVP_PKEY *current_key,
                               STACK_OF(X509) *current_chain,
                               STACK_OF(X509) **chain, char *err, size_t n);

/*
 * Renewal with the same key: POST {url}/1.0/renew (no body) over mutual
 * TLS as for rekey. Checked as for rekey, with current's public key in
 * place of a CSR's. *chain as for km_enrol_sign.
 */
km_enrol_reason km_enrol_renew(const km_enrol_service *svc, X509 *current,
                               EVP_PKEY *current_key,
                               STACK_OF(X509) *current_chain,
                               STACK_OF(X509) **chain, char *err, size_t n);

/*
 * What a one-time token says it is for, read WITHOUT verifying it (the
 * service does that): the "sub" claim of the JWT's payload into sub[sub_n]
 * (at most 64 characters, no control characters). A caller builds its CSR
 * with this CN, and refuses a mismatch with its own configuration before
 * the token is spent. KM_ENROL_BAD_ARGUMENT when the token is not a JWT
 * whose payload is a JSON object with such a "sub".
 */
km_enrol_reason km_enrol_token_subject(const char *token, char *sub, size_t sub_n,
                                       char *err, size_t n);

/*
 * 1 when s is a Go duration as step-ca reads "notAfter"
 * (([0-9]+(.[0-9]+)?(ns|us|ms|s|m|h))+, at most 32 characters: "24h",
 * "90m", "1h30m"), with its length in *seconds (if not NULL); else 0.
 */
int km_enrol_duration(const char *s, double *seconds);

#endif
