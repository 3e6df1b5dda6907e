/*
 * Per-connection TLS setup and the words for a failure. The SSL_CTX (built by
 * the caller from librdkafka's ssl.* settings) decides versions, ciphers,
 * trust and verify mode; this file adds what depends on the broker: SNI,
 * the host name or IP check, and callbacks that remember what went wrong -
 * because OpenSSL's error queue alone says "certificate verify failed" and
 * librdkafka's own line says only "Connection reset by peer".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

/* The leg of an SSL the transport made, in an ex_data slot of its own (the
 * app_data slot would make any SSL look like ours). */
static int leg_index = -1;
static pthread_once_t leg_index_once = PTHREAD_ONCE_INIT;

static void make_leg_index(void)
{
    leg_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static km_leg *leg_of(const SSL *ssl)
{
    pthread_once(&leg_index_once, make_leg_index);
    return ssl && leg_index >= 0 ? SSL_get_ex_data(ssl, leg_index) : NULL;
}

const char *km_transport_ssl_broker(const SSL *ssl)
{
    km_leg *l = leg_of(ssl);

    return l ? l->ep.c->broker : NULL;
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Chains the SSL_CTX's own verify callback (e.g. the application's
 * ssl_cert_verify_cb) and remembers the first certificate it refused. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    km_leg *l = leg_of(ssl);

    if (l == NULL)
        return ok;
    if (l->ctx_verify)
        ok = l->ctx_verify(ok, store);
    if (!ok && l->verify_err == 0) {
        X509 *cert = X509_STORE_CTX_get_current_cert(store);
        l->verify_err = X509_STORE_CTX_get_error(store);
        l->verify_depth = X509_STORE_CTX_get_error_depth(store);
        l->verify_subject[0] = '\0';
        if (cert)
            X509_NAME_oneline(X509_get_subject_name(cert), l->verify_subject,
                              sizeof(l->verify_subject));
    }
    return ok;
}

/* Sees every handshake message and alert the broker sends. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg)
{
    const unsigned char *b = buf;
    km_leg *l = arg;

    (void)version, (void)ssl;
    if (write_p)
        return;
    if (content_type == SSL3_RT_HANDSHAKE && len >= 1 && b[0] == SSL3_MT_NEWSESSION_TICKET)
        l->got_ticket = 1;
    else if (content_type == SSL3_RT_ALERT && len >= 2)
        l->alert = b[1];
}

static void ossl_reason(char *out, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    if (r)
        snprintf(out, n, "%s", r);
    else if (e)
        snprintf(out, n, "OpenSSL error %lx", e);
    else
        snprintf(out, n, "unknown error");
}

int km_tls_prepare(km_leg *l, const char *host, int verify_hostname, char *why, size_t n)
{
    SSL *ssl;
    char r[256];

    ERR_clear_error();
    if ((l->ssl = ssl = SSL_new(l->ctx)) == NULL)
        goto ossl;
    pthread_once(&leg_index_once, make_leg_index);
    if (leg_index < 0 || !SSL_set_ex_data(ssl, leg_index, l))
        goto ossl;
    if (!SSL_set_fd(ssl, l->ep.fd))
        goto ossl;
    SSL_set_connect_state(ssl);
    /* SSL_write is given whatever librdkafka wrote, in pieces */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* an idle connection gives OpenSSL's record buffers back (about 23 KiB
     * measured); librdkafka's own TLS keeps them */
    SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    /* one read() per burst of records instead of two per record (header,
     * body); pump.c then drains what OpenSSL buffered (SSL_has_pending),
     * since epoll cannot see it */
    SSL_set_read_ahead(ssl, 1);
    /* Sessions are never resumed (no SSL_set_session anywhere): every
     * connection proves the current certificate in a full handshake. No
     * TLS 1.2 tickets either, since nothing would use them. */
    SSL_set_options(ssl, SSL_OP_NO_TICKET);
    int ip = is_ip_literal(host);
    /* RFC 6066: SNI carries host names only; librdkafka does the same */
    if (!ip && !SSL_set_tlsext_host_name(ssl, host))
        goto ossl;
    if (verify_hostname) {
        if (ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
               : !SSL_set1_host(ssl, host))
            goto ossl;
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    l->ctx_verify = SSL_CTX_get_verify_callback(l->ctx);
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(l->ctx), verify_cb);
    SSL_set_msg_callback(ssl, msg_cb);
    SSL_set_msg_callback_arg(ssl, l);
    return 0;
ossl:
    ossl_reason(r, sizeof(r));
    snprintf(why, n, "cannot set up TLS for host %s: %s", host, r);
    ERR_clear_error();
    return -1;
}

/* OpenSSL 3.0 names no TLS 1.3-only alert ("unknown") */
static const char *alert_name(int alert)
{
    switch (alert) {
    case 109: return "missing extension";
    case 115: return "unknown PSK identity";
    case 116: return "certificate required";
    case 120: return "no application protocol";
    default: return SSL_alert_desc_string_long(alert);
    }
}

static const char *alert_meaning(int alert)
{
    switch (alert) {
    case 116:
        return ": it requires a client certificate";
    case 42: case 43: case 44: case 45: case 46: case 48: case 49:
        return ": it does not accept our client certificate";
    case 40: case 70: case 71:
        return ": no TLS version, cipher suite or group in common";
    default:
        return "";
    }
}

static void our_subject(km_leg *l, char *out, size_t n)
{
    X509 *mine = SSL_get_certificate(l->ssl);

    if (mine == NULL) {
        snprintf(out, n, "no client certificate");
        return;
    }
    char name[256];
    X509_NAME_oneline(X509_get_subject_name(mine), name, sizeof(name));
    snprintf(out, n, "our certificate %s, generation %llu", name, (unsigned long long)l->gen);
}

void km_tls_failure(km_leg *l, int ssl_err, int sys, const char *host, const char *when,
                    char *out, size_t n)
{
    long v = SSL_get_verify_result(l->ssl);
    char r[256], mine[320];

    our_subject(l, mine, sizeof(mine));
    if (v != X509_V_OK && l->verify_err != 0) {
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
            snprintf(out, n, "%s: the broker's certificate (%s) does not name %s (%s; "
                     "ssl.endpoint.identification.algorithm=https)", when, l->verify_subject,
                     host, X509_verify_cert_error_string(v));
        else
            snprintf(out, n, "%s: the broker's certificate is not trusted: %s (depth %d: %s)%s",
                     when, X509_verify_cert_error_string(v), l->verify_depth, l->verify_subject,
                     v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                             v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
                             v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
                         ? " - its CA is not among the trusted CAs (ssl.ca.*)"
                         : "");
    } else if (l->alert >= 0) {
        snprintf(out, n, "%s: the broker sent TLS alert \"%s\"%s (%s)", when,
                 alert_name(l->alert), alert_meaning(l->alert), mine);
    } else if (ssl_err == SSL_ERROR_SSL) {
        ossl_reason(r, sizeof(r));
        snprintf(out, n, "%s: %s (%s)", when, r, mine);
    } else if (ssl_err == SSL_ERROR_SYSCALL && sys != 0) {
        snprintf(out, n, "%s: %s", when, strerror(sys));
    } else {
        snprintf(out, n, "%s: the broker closed the connection without a TLS alert "
                 "(is this a TLS listener?)", when);
    }
    ERR_clear_error();
}

void km_tls_confirmed(km_leg *l)
{
    /* the callback has done its job; it would otherwise run per record */
    SSL_set_msg_callback(l->ssl, NULL);
    km_log(l->ep.c->t, LOG_DEBUG, l->ep.c->broker,
           "TLS up: %s, %s, generation %llu, %llu ms after connect",
           SSL_get_version(l->ssl), SSL_get_cipher_name(l->ssl), (unsigned long long)l->gen,
           (unsigned long long)(km_transport_clock_ms() - l->started_ms));
}
