/*
 * handshakes: full TLS handshakes per second with a client certificate,
 * the client's key, certificate and CAs loaded two ways: from PEM files
 * (SSL_CTX_use_*_file, as an application configured by hand does) and
 * from a keystore: URI through OSSL_STORE and the kafka-mtls provider.
 * Each round runs both clients, SECONDS each, against the same server,
 * the PEM one first in odd rounds and the URI one first in even ones, so
 * that both see the same machine.
 *
 *   handshakes PORT SECONDS ROUNDS CAFILE CERT.pem KEY.pem URI
 * Prints "round N: pem X/s uri Y/s" per round. TLS 1.2, so that a finished
 * handshake means the server verified our certificate. The provider is
 * found in OPENSSL_MODULES (or the default module directory).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/store.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static SSL_CTX *new_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || !SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION))
        return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

static SSL_CTX *pem_ctx(const char *cafile, const char *cert, const char *key)
{
    SSL_CTX *ctx = new_ctx();

    if (ctx == NULL || !SSL_CTX_use_certificate_chain_file(ctx, cert) ||
        !SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) || !SSL_CTX_load_verify_file(ctx, cafile)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The key and the leaf certificate from uri, through OSSL_STORE. */
static int use_store(SSL_CTX *ctx, const char *uri)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info;
    int have_key = 0, have_cert = 0;

    if (store == NULL)
        return 0;
    while ((info = OSSL_STORE_load(store)) != NULL) {
        int type = OSSL_STORE_INFO_get_type(info);

        if (type == OSSL_STORE_INFO_PKEY && !have_key)
            have_key = SSL_CTX_use_PrivateKey(ctx, OSSL_STORE_INFO_get0_PKEY(info));
        else if (type == OSSL_STORE_INFO_CERT && !have_cert)
            have_cert = SSL_CTX_use_certificate(ctx, OSSL_STORE_INFO_get0_CERT(info));
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    return have_key && have_cert && SSL_CTX_check_private_key(ctx);
}

static SSL_CTX *uri_ctx(const char *uri)
{
    SSL_CTX *ctx = new_ctx();

    if (ctx == NULL || !use_store(ctx, uri) || !SSL_CTX_load_verify_store(ctx, uri)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int handshake(SSL_CTX *ctx, const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, ok = 0;
    SSL *ssl = NULL;

    if (fd < 0)
        return 0;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 && (ssl = SSL_new(ctx)) != NULL &&
        SSL_set_fd(ssl, fd) && SSL_connect(ssl) == 1 && SSL_get_verify_result(ssl) == X509_V_OK) {
        ok = 1;
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    return ok;
}

/* Handshakes per second over seconds; -1 when one fails. */
static double rate(SSL_CTX *ctx, const struct sockaddr_in *addr, double seconds)
{
    double t0 = now_s(), t;
    long n = 0;

    do {
        if (!handshake(ctx, addr))
            return -1;
        n++;
    } while ((t = now_s() - t0) < seconds);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    SSL_CTX *pem, *uri;
    double seconds;
    int rounds;

    if (argc != 8 || atoi(argv[1]) <= 0 || (seconds = atof(argv[2])) <= 0 || (rounds = atoi(argv[3])) <= 0) {
        fprintf(stderr, "usage: handshakes PORT SECONDS ROUNDS CAFILE CERT.pem KEY.pem URI\n");
        return 2;
    }
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (OSSL_PROVIDER_load(NULL, "default") == NULL || OSSL_PROVIDER_load(NULL, "kafka-mtls") == NULL) {
        fprintf(stderr, "handshakes: cannot load the default and kafka-mtls providers (OPENSSL_MODULES?)\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    if ((pem = pem_ctx(argv[4], argv[5], argv[6])) == NULL || (uri = uri_ctx(argv[7])) == NULL) {
        fprintf(stderr, "handshakes: cannot load the client's key and certificates\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    for (int i = 1; i <= rounds; i++) {
        double p, u;

        /* in turns, so that neither always runs second */
        if (i % 2) {
            p = rate(pem, &addr, seconds);
            u = rate(uri, &addr, seconds);
        } else {
            u = rate(uri, &addr, seconds);
            p = rate(pem, &addr, seconds);
        }

        if (p < 0 || u < 0) {
            fprintf(stderr, "handshakes: a %s handshake failed\n", p < 0 ? "PEM" : "URI");
            ERR_print_errors_fp(stderr);
            return 1;
        }
        printf("round %d: pem %.1f/s uri %.1f/s\n", i, p, u);
        fflush(stdout);
    }
    SSL_CTX_free(pem);
    SSL_CTX_free(uri);
    return 0;
}
