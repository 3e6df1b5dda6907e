/* The client certificate and the alert record, installed into the SSL_CTX
 * that libcurl's OpenSSL backend creates for a connection. Installing the
 * key as an EVP_PKEY (rather than CURLOPT_SSLKEY_BLOB) means the key is
 * never serialised: no PEM copy exists to leak or cleanse, in our memory or
 * libcurl's (libcurl frees its blob copies without cleansing them). */
#include <pthread.h>
#include <openssl/ssl.h>

#include "tls.h"

static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static int ctx_index = -1;

static void new_index(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

void kme_tls_init(kme_tls *t, X509_STORE *roots, X509 *cert, EVP_PKEY *key,
                  STACK_OF(X509) *chain)
{
    t->roots = roots;
    t->cert = cert;
    t->key = key;
    t->chain = chain;
    t->alert = -1;
    t->install_failed = 0;
}

/* Records the first fatal alert the service sends. Under TLS 1.3 a refused
 * client certificate is reported after the handshake, on the first read,
 * and libcurl then says only "SSL_read: ... alert ..." (CURLE_RECV_ERROR),
 * as for a broken connection: this record tells the two apart. */
static void on_info(const SSL *ssl, int where, int ret)
{
    kme_tls *t;

    if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT || (ret >> 8) != SSL3_AL_FATAL)
        return;
    t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    if (t != NULL && t->alert < 0)
        t->alert = ret;
}

CURLcode kme_tls_on_ctx(CURL *curl, void *ssl_ctx, void *parm)
{
    SSL_CTX *ctx = ssl_ctx;
    kme_tls *t = parm;

    (void)curl;
    pthread_once(&index_once, new_index);
    if (ctx_index < 0 || !SSL_CTX_set_ex_data(ctx, ctx_index, t)) {
        t->install_failed = 1;
        return CURLE_SSL_CERTPROBLEM;
    }
    SSL_CTX_set_info_callback(ctx, on_info);
    /* The context takes a reference of its own. */
    if (!X509_STORE_up_ref(t->roots)) {
        t->install_failed = 1;
        return CURLE_SSL_CERTPROBLEM;
    }
    SSL_CTX_set_cert_store(ctx, t->roots);
    if (t->cert != NULL &&
        SSL_CTX_use_cert_and_key(ctx, t->cert, t->key, t->chain, 1) != 1) {
        t->install_failed = 1;
        return CURLE_SSL_CERTPROBLEM;
    }
    return CURLE_OK;
}

int kme_tls_alert_refuses_cert(int alert)
{
    switch (alert & 0xff) {
    case SSL3_AD_BAD_CERTIFICATE:
    case SSL3_AD_UNSUPPORTED_CERTIFICATE:
    case SSL3_AD_CERTIFICATE_REVOKED:
    case SSL3_AD_CERTIFICATE_EXPIRED:
    case SSL3_AD_CERTIFICATE_UNKNOWN:
    case TLS1_AD_UNKNOWN_CA:
    case TLS1_AD_ACCESS_DENIED:
    case TLS13_AD_CERTIFICATE_REQUIRED:
        return 1;
    default:
        return 0;
    }
}

const char *kme_tls_alert_text(int alert)
{
    return SSL_alert_desc_string_long(alert);
}
