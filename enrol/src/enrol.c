/* The public calls: the arguments are checked before anything is sent
 * (a sign request spends its token whatever the answer), then one
 * exchange (http.c), then the answer is read (message.c, response.c) and
 * checked (checks.c) before it is handed out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "args.h"
#include "checks.h"
#include "fail.h"
#include "http.h"
#include "kmtls/clock.h"
#include "kmtls/x509.h"
#include "message.h"
#include "response.h"
#include "url.h"

#define DETAIL 512

typedef enum call_kind { CALL_SIGN, CALL_REKEY, CALL_RENEW } call_kind;

typedef struct call {
    call_kind kind;
    const km_enrol_service *svc;
    const char *path;          /* "/1.0/sign", ... */
    const char *body;          /* NULL: none (renew) */
    size_t body_len;
    const char *secret;        /* the token in the body, if any */
    X509 *cert;                /* mutual TLS, rekey and renew */
    EVP_PKEY *key;
    STACK_OF(X509) *client_chain;
    kme_expect expect;         /* roots and roots_file are filled in here */
} call;

/* The CSR as PEM text, NUL-terminated, malloc'd. */
static char *csr_pem(X509_REQ *csr)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long len;

    ERR_set_mark();
    if (b != NULL && PEM_write_bio_X509_REQ(b, csr) && (len = BIO_get_mem_data(b, &data)) > 0 &&
        (out = malloc((size_t)len + 1)) != NULL) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    ERR_pop_to_mark();
    BIO_free(b);
    return out;
}

/* " (it expired at 2026-01-02 03:04:05 UTC)" when cert has expired. */
static void expired_note(X509 *cert, char *buf, size_t n)
{
    time_t t;
    char when[32];

    buf[0] = '\0';
    if (cert == NULL || km_cert_validity(cert, time(NULL)) != KM_VALID_EXPIRED ||
        !km_time_of(X509_get0_notAfter(cert), &t))
        return;
    snprintf(buf, n, "; the current certificate expired at %s", km_utc_text(t, when, sizeof(when)));
}

/* A transport failure, with the URL. */
static km_enrol_reason transport_failed(const call *c, const char *url, long timeout_ms,
                                        km_enrol_reason r, const char *detail,
                                        char *err, size_t n)
{
    char note[96];

    switch (r) {
    case KM_ENROL_UNREACHABLE:
        return kme_fail(err, n, r, "step-ca %s is unreachable: %s", url, detail);
    case KM_ENROL_TIMEOUT:
        return kme_fail(err, n, r, "step-ca %s timed out after %ld ms: %s", url, timeout_ms,
                        detail);
    case KM_ENROL_TLS:
        return kme_fail(err, n, r, "step-ca %s: TLS failed: %s", url, detail);
    case KM_ENROL_CERT_REFUSED:
        expired_note(c->cert, note, sizeof(note));
        return kme_fail(err, n, r, "step-ca %s refused the client certificate (%s%s): it cannot "
                        "renew itself; enrol again with a new token", url, detail, note);
    case KM_ENROL_BAD_RESPONSE:
        return kme_fail(err, n, r, "step-ca %s sent a bad response: %s", url, detail);
    default:
        return kme_fail(err, n, r, "step-ca %s: %s", url, detail);
    }
}

/* An HTTP status other than success, with the service's own message. */
static km_enrol_reason status_failed(const call *c, const char *url,
                                     const kme_http_response *resp, char *err, size_t n)
{
    char msg[DETAIL];
    long s = resp->status;

    kme_error_message(resp->body, resp->len, c->secret, msg, sizeof(msg));
    if (msg[0] == '\0')
        snprintf(msg, sizeof(msg), "(no message)");
    if (s == 401 && c->kind == CALL_SIGN)
        return kme_fail(err, n, KM_ENROL_UNAUTHORIZED,
                        "step-ca %s refused the token (401): %s (it is expired, already used, or "
                        "not from this service's provisioner: get a new token)", url, msg);
    if (s == 401)
        return kme_fail(err, n, KM_ENROL_UNAUTHORIZED,
                        "step-ca %s refused the renewal (401): %s", url, msg);
    if (s == 400 || s == 403)
        return kme_fail(err, n, KM_ENROL_REFUSED, "step-ca %s refused the request (%ld): %s%s",
                        url, s, msg,
                        c->kind == CALL_SIGN ? " (the token is spent: use a new one)" : "");
    if (s >= 300 && s < 400)
        return kme_fail(err, n, KM_ENROL_SERVICE,
                        "step-ca %s answered %ld, a redirect (not followed): %s", url, s, msg);
    return kme_fail(err, n, KM_ENROL_SERVICE, "step-ca %s answered HTTP %ld: %s", url, s, msg);
}

static km_enrol_reason exchange(call *c, STACK_OF(X509) **chain, char *err, size_t n)
{
    const km_enrol_service *svc = c->svc;
    X509_STORE *tls_roots = NULL, *chain_roots = NULL;
    kme_http_response resp = { 0 };
    kme_http_request req;
    char *url = NULL, detail[DETAIL];
    long timeout_ms = 0;
    km_enrol_reason r;

    if ((r = kme_check_service(svc, &timeout_ms, err, n)) != KM_ENROL_OK)
        return r;
    if ((r = kme_endpoint(svc->url, c->path, &url, detail, sizeof(detail))) != KM_ENROL_OK)
        return kme_fail(err, n, r, "kmtls-enrol: %s", detail);
    if ((r = kme_load_roots(svc->ca_file, "ca_file", &tls_roots, err, n)) != KM_ENROL_OK)
        goto done;
    if (svc->chain_ca_file == NULL) {
        X509_STORE_up_ref(tls_roots);
        chain_roots = tls_roots;
    } else if ((r = kme_load_roots(svc->chain_ca_file, "chain_ca_file", &chain_roots, err, n)) !=
               KM_ENROL_OK) {
        goto done;
    }
    req = (kme_http_request){
        .url = url, .ca_file = svc->ca_file, .roots = tls_roots, .timeout_ms = timeout_ms,
        .body = c->body, .body_len = c->body_len,
        .client_cert = c->cert, .client_key = c->key, .client_chain = c->client_chain,
    };
    if ((r = kme_http_post(&req, &resp, detail, sizeof(detail))) != KM_ENROL_OK) {
        r = transport_failed(c, url, timeout_ms, r, detail, err, n);
        goto done;
    }
    if (resp.status != 201 && resp.status != 200) {
        r = status_failed(c, url, &resp, err, n);
        goto done;
    }
    c->expect.roots = chain_roots;
    c->expect.roots_file = svc->chain_ca_file != NULL ? svc->chain_ca_file : svc->ca_file;
    if ((r = kme_response_chain(resp.body, resp.len, chain, detail, sizeof(detail))) != KM_ENROL_OK ||
        (r = kme_check_chain(*chain, &c->expect, detail, sizeof(detail))) != KM_ENROL_OK) {
        sk_X509_pop_free(*chain, X509_free);
        *chain = NULL;
        r = kme_fail(err, n, r, "step-ca %s sent a bad response: %s", url, detail);
        goto done;
    }
    kme_fail(err, n, KM_ENROL_OK, "%s", "");
done:
    kme_http_response_clear(&resp);
    X509_STORE_free(tls_roots);
    X509_STORE_free(chain_roots);
    free(url);
    return r;
}

/* The exchange of a sign or rekey call: csr as the JSON body (with the
 * token and lifetime for sign), an answer for csr's key. */
static km_enrol_reason exchange_csr(call *c, X509_REQ *csr, const char *token, const char *not_after,
                                    STACK_OF(X509) **chain, char *err, size_t n)
{
    char *pem, *body = NULL;
    size_t body_len = 0;
    km_enrol_reason r;

    if ((pem = csr_pem(csr)) == NULL)
        return kme_fail(err, n, KM_ENROL_INTERNAL, "kmtls-enrol: cannot encode the request");
    r = kme_request_json(pem, token, not_after, &body, &body_len, err, n);
    free(pem);
    if (r != KM_ENROL_OK)
        return r;
    c->body = body;
    c->body_len = body_len;
    c->expect.key = X509_REQ_get0_pubkey(csr);
    r = exchange(c, chain, err, n);
    OPENSSL_clear_free(body, body_len + 1);
    return r;
}

km_enrol_reason km_enrol_sign(const km_enrol_service *svc, X509_REQ *csr,
                              const char *token, const char *not_after,
                              STACK_OF(X509) **chain, char *err, size_t n)
{
    char cn[256];
    km_enrol_reason r;
    call c = { .kind = CALL_SIGN, .svc = svc, .path = "/1.0/sign" };

    if (chain != NULL)
        *chain = NULL;
    if (csr == NULL || token == NULL || chain == NULL)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: sign needs a CSR, a token and a place for the chain");
    if (!kme_token_ok(token))
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: the token is not a JWT (empty, over %d bytes, or a "
                        "character outside base64url and '.')", KME_TOKEN_MAX);
    if (not_after != NULL && !kme_duration_ok(not_after))
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: not_after '%.*s' is not a duration such as 24h, 90m or 1h30m",
                        KME_NOT_AFTER_MAX, not_after);
    if ((r = kme_check_csr(csr, err, n)) != KM_ENROL_OK)
        return r;
    if (!km_name_only_cn(X509_REQ_get_subject_name(csr), cn, sizeof(cn)))
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: the certificate request needs exactly one common name (the "
                        "token's subject)");
    c.secret = token;
    c.expect.common_name = cn;
    return exchange_csr(&c, csr, token, not_after, chain, err, n);
}

km_enrol_reason km_enrol_rekey(const km_enrol_service *svc, X509_REQ *csr,
                               X509 *current, EVP_PKEY *current_key,
                               STACK_OF(X509) *current_chain,
                               STACK_OF(X509) **chain, char *err, size_t n)
{
    km_enrol_reason r;
    call c = { .kind = CALL_REKEY, .svc = svc, .path = "/1.0/rekey" };

    if (chain != NULL)
        *chain = NULL;
    if (csr == NULL || chain == NULL)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: rekey needs a CSR and a place for the chain");
    if ((r = kme_check_current(current, current_key, err, n)) != KM_ENROL_OK ||
        (r = kme_check_csr(csr, err, n)) != KM_ENROL_OK)
        return r;
    c.cert = current;
    c.key = current_key;
    c.client_chain = current_chain;
    c.expect.same_identity = current;
    return exchange_csr(&c, csr, NULL, NULL, chain, err, n);
}

km_enrol_reason km_enrol_renew(const km_enrol_service *svc, X509 *current,
                               EVP_PKEY *current_key,
                               STACK_OF(X509) *current_chain,
                               STACK_OF(X509) **chain, char *err, size_t n)
{
    km_enrol_reason r;
    call c = { .kind = CALL_RENEW, .svc = svc, .path = "/1.0/renew" };

    if (chain != NULL)
        *chain = NULL;
    if (chain == NULL)
        return kme_fail(err, n, KM_ENROL_BAD_ARGUMENT,
                        "kmtls-enrol: renew needs a place for the chain");
    if ((r = kme_check_current(current, current_key, err, n)) != KM_ENROL_OK)
        return r;
    c.cert = current;
    c.key = current_key;
    c.client_chain = current_chain;
    c.expect.key = X509_get0_pubkey(current);
    c.expect.same_identity = current;
    return exchange(&c, chain, err, n);
}
