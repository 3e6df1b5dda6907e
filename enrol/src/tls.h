/* What happens inside the TLS session that libcurl opens: our client
 * certificate, handed to OpenSSL as objects, and the alerts the service
 * sends, recorded so that a refusal can be told from a network failure. */
#ifndef KME_TLS_H
#define KME_TLS_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct kme_tls {
    /* The only roots that verify the service: they replace whatever store
     * libcurl built (its compiled-in CA path and bundle are never
     * trusted, whatever a libcurl version does with CURLOPT_CAPATH=NULL).
     * Borrowed. */
    X509_STORE *roots;
    /* The client certificate, its key and intermediates to send; all NULL
     * for no client certificate. Borrowed: the caller keeps them. */
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) *chain;
    /* Filled during the exchange: the first fatal alert received from the
     * service ((level << 8) | description, as OpenSSL's info callback
     * gives it), or -1. */
    int alert;
    /* 1 when the certificate could not be installed. */
    int install_failed;
} kme_tls;

/* Prepares t for one exchange. */
void kme_tls_init(kme_tls *t, X509_STORE *roots, X509 *cert, EVP_PKEY *key,
                  STACK_OF(X509) *chain);

/* libcurl's CURLOPT_SSL_CTX_FUNCTION (its OpenSSL backend hands us the
 * SSL_CTX of the connection it is about to open); parm is a kme_tls. */
CURLcode kme_tls_on_ctx(CURL *curl, void *ssl_ctx, void *parm);

/* 1 when alert (as recorded in kme_tls.alert) is the service refusing a
 * client certificate: bad_certificate, unsupported_certificate,
 * certificate_revoked, certificate_expired, certificate_unknown,
 * unknown_ca, access_denied, certificate_required. */
int kme_tls_alert_refuses_cert(int alert);

/* OpenSSL's long name of the alert's description, e.g. "certificate
 * expired". */
const char *kme_tls_alert_text(int alert);

#endif
