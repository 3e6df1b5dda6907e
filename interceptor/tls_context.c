/*
 * The SSL_CTX behind a live-rotation client: what librdkafka's own
 * rd_kafka_ssl_ctx_init would make of the same ssl.* settings, in the same
 * (default) library context, so that the system's OpenSSL configuration
 * (minimum protocol, security level) applies as it would to librdkafka.
 * One is built at client creation and one per rotation; the transport
 * takes its own reference and decides nothing about TLS itself.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kmtls/pem.h"
#include "kmtls/transport.h"
#include "tls_context.h"

/* Where librdkafka's "probe" looks for the system's CA certificates, in
 * its order; the first that exists is used. */
static const char *const probe_paths[] = {
    "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-bundle.crt",
    "/etc/pki/tls/certs/ca-bundle.trust.crt", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem", "/etc/ssl/cert.pem", "/etc/ssl/cacert.pem",
    "/etc/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs",
    "/usr/local/etc/ssl/cert.pem", "/usr/local/etc/ssl/cacert.pem", "/usr/local/etc/ssl/certs/cert.pem",
    "/usr/local/etc/ssl/certs/cacert.pem", "/usr/local/share/certs/ca-root-nss.crt",
    "/etc/openssl/certs/ca-certificates.crt", "/var/ssl/certs/ca-bundle.crt",
};

/* The options of an SSL_CTX we built, for the verify callback. */
static int options_index = -1;
static CRYPTO_ONCE options_once = CRYPTO_ONCE_STATIC_INIT;

static void make_index(void)
{
    options_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int fail(char *err, size_t n, const char *what, const char *value)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(err, n, "kafka-mtls: %s%s%s%s: %s", what, value ? " \"" : "", value ? value : "", value ? "\"" : "",
             reason != NULL ? reason : "refused by OpenSSL");
    ERR_clear_error();
    return 0;
}

/*
 * The application's ssl.certificate.verify_cb, called as librdkafka calls
 * it: for every certificate of the broker's chain, with its DER, the
 * broker's name ("host:port"; its node id is not known at connect time,
 * hence -1) and the client's opaque; it may clear or set the X509 error.
 */
static int app_verify(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const km_tls_options *o = ssl != NULL ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), options_index) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    int error, orig, len;
    unsigned char *der = NULL;
    char errstr[512] = "", line[1024], subject[256];
    const char *broker;

    if (o == NULL || o->verify_cb == NULL || cert == NULL)
        return 0;
    if ((len = i2d_X509(cert, &der)) <= 0)
        return 0;
    broker = km_transport_ssl_broker(ssl);
    orig = error = X509_STORE_CTX_get_error(store);
    (void)ok;
    ok = o->verify_cb(o->rk, broker ? broker : "", -1, &error, X509_STORE_CTX_get_error_depth(store),
                      (const char *)der, (size_t)len, errstr, sizeof(errstr), o->opaque);
    OPENSSL_free(der);
    if (!ok) {
        X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
        snprintf(line, sizeof(line), "kafka-mtls: broker %s: the application's ssl.certificate.verify_cb "
                 "refused the broker's certificate %s: %s", broker ? broker : "?", subject,
                 errstr[0] ? errstr : "(no reason given)");
        km_client_log_line(&o->log, o->rk, LOG_ERR, line);
        X509_STORE_CTX_set_error(store, error != X509_V_OK ? error : X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    if (orig != X509_V_OK && error == X509_V_OK)
        X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}

static int add_pem_cas(X509_STORE *store, const char *pem)
{
    STACK_OF(X509) *cas = km_pem_certs(NULL, (const unsigned char *)pem, strlen(pem), NULL);
    int n = 0;

    for (int i = 0; i < sk_X509_num(cas); i++)
        n += X509_STORE_add_cert(store, sk_X509_value(cas, i)) == 1;
    sk_X509_pop_free(cas, X509_free);
    return n;
}

static int load_location(SSL_CTX *ctx, const char *path)
{
    struct stat sb;
    int dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);

    return SSL_CTX_load_verify_locations(ctx, dir ? NULL : path, dir ? path : NULL) == 1;
}

static int set_trust(SSL_CTX *ctx, const km_tls_options *o, const km_pem_bundle *b, char *err, size_t n)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);

    if (b->trust != NULL) {
        /* the volume's truststore (apply.c refused an ssl.ca.* beside it) */
        for (int i = 0; i < sk_X509_num(b->trust); i++)
            if (X509_STORE_add_cert(store, sk_X509_value(b->trust, i)) != 1)
                return fail(err, n, "adding the volume's trusted CA certificates", NULL);
    } else if (o->ca_location != NULL && strcmp(o->ca_location, "probe") == 0) {
        size_t i;

        for (i = 0; i < sizeof(probe_paths) / sizeof(probe_paths[0]); i++)
            if (access(probe_paths[i], R_OK) == 0 && load_location(ctx, probe_paths[i]))
                break;
        if (i == sizeof(probe_paths) / sizeof(probe_paths[0]))
            return fail(err, n, "ssl.ca.location=probe: no CA certificates found at the usual places", NULL);
    } else if (o->ca_location != NULL) {
        if (!load_location(ctx, o->ca_location))
            return fail(err, n, "ssl.ca.location", o->ca_location);
    } else if (o->ca_pem == NULL && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return fail(err, n, "loading OpenSSL's default CA locations", NULL);
    }
    if (o->ca_pem != NULL && b->trust == NULL && add_pem_cas(store, o->ca_pem) == 0)
        return fail(err, n, "ssl.ca.pem: no certificate could be read from it", NULL);
    if (o->crl_location != NULL) {
        if (X509_STORE_load_locations(store, o->crl_location, NULL) != 1)
            return fail(err, n, "ssl.crl.location", o->crl_location);
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    return 1;
}

static int set_identity(SSL_CTX *ctx, const km_pem_bundle *b, char *err, size_t n)
{
    if (b->pkey == NULL || sk_X509_num(b->certs) < 1) {
        snprintf(err, n, "kafka-mtls: no key or certificate to present");
        return 0;
    }
    if (SSL_CTX_use_certificate(ctx, sk_X509_value(b->certs, 0)) != 1 || SSL_CTX_use_PrivateKey(ctx, b->pkey) != 1)
        return fail(err, n, "the client key and certificate", NULL);
    /* the whole chain is sent (librdkafka < 2.8 sent only the leaf of a PEM) */
    for (int i = 1; i < sk_X509_num(b->certs); i++)
        if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(b->certs, i)) != 1)
            return fail(err, n, "the client certificate's chain", NULL);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(err, n, "the private key does not match the client certificate", NULL);
    return 1;
}

SSL_CTX *km_tls_context_new(const km_tls_options *o, const km_pem_bundle *b, char *err, size_t n)
{
    SSL_CTX *ctx;

    CRYPTO_THREAD_run_once(&options_once, make_index);
    ERR_clear_error();
    if (options_index < 0 || (ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        fail(err, n, "cannot create an SSL context", NULL);
        return NULL;
    }
    if ((o->cipher_suites != NULL && SSL_CTX_set_cipher_list(ctx, o->cipher_suites) != 1 &&
         !fail(err, n, "ssl.cipher.suites", o->cipher_suites)) ||
        (o->curves != NULL && SSL_CTX_set1_curves_list(ctx, o->curves) != 1 &&
         !fail(err, n, "ssl.curves.list", o->curves)) ||
        (o->sigalgs != NULL && SSL_CTX_set1_sigalgs_list(ctx, o->sigalgs) != 1 &&
         !fail(err, n, "ssl.sigalgs.list", o->sigalgs)) ||
        !set_trust(ctx, o, b, err, n) || !set_identity(ctx, b, err, n) ||
        !SSL_CTX_set_ex_data(ctx, options_index, (void *)o)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* as librdkafka: verification as configured, the application's
     * callback (if any) deciding on each certificate; the transport chains
     * this callback and adds the broker's name to the check */
    SSL_CTX_set_verify(ctx, o->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       o->verify_cb != NULL ? app_verify : NULL);
    return ctx;
}
