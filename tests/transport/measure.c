/*
 * measure: the numbers transport/README.md reports, on this machine, against
 * tests/peer/mtls-peer.sh (stunnel4 + kmockd, TLS 1.3, EC P-256):
 *   - the AF_UNIX writability threshold the hold relies on;
 *   - connect -> "connected" through the transport vs a bare OpenSSL
 *     client's SSL_connect with the same SSL_CTX (what librdkafka's own
 *     TLS waits for);
 *   - one Kafka round trip (ApiVersions) through the transport vs over a
 *     direct TLS connection, alternated;
 *   - heap and fds per connection, transport vs bare SSL objects;
 *   - km_transport_set_ctx -> an idle connection moved to the new
 *     certificate.
 * A benchmark (meson benchmark), not a test: it prints, asserts nothing.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "harness.h"
#include "peers.h"

#define ROUNDS 20          /* connections for the handshake and memory figures */
#define RTTS 2000          /* round trips per block */
#define BLOCKS 6

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static void af_unix_threshold(void)
{
    static const size_t chunks[] = {1, 4096, 16384};
    static unsigned char buf[16384];

    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        int sv[2];
        size_t until_unwritable = 0, until_full = 0, writes = 0;
        int sndbuf = 0;
        socklen_t len = sizeof(sndbuf);

        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
        getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
        for (;;) {
            struct pollfd p = {.fd = sv[0], .events = POLLOUT};
            poll(&p, 1, 0);
            if (!(p.revents & POLLOUT))
                break;
            ssize_t w = send(sv[0], buf, chunks[i], MSG_DONTWAIT);
            if (w <= 0)
                break;
            until_unwritable += (size_t)w;
            writes++;
        }
        for (;;) {
            ssize_t w = send(sv[0], buf, chunks[i], MSG_DONTWAIT);
            if (w <= 0)
                break;
            until_full += (size_t)w;
        }
        printf("AF_UNIX (SO_SNDBUF %d): writes of %5zu B: not writable after %zu B in %zu writes; "
               "EAGAIN %zu B later\n", sndbuf, chunks[i], until_unwritable, writes, until_full);
        close(sv[0]);
        close(sv[1]);
    }
}

static km_transport *transport(SSL_CTX *ctx)
{
    km_transport_config cfg = {.verify_hostname = 1};
    char err[256];
    km_transport *t = km_transport_new(&cfg, ctx, err, sizeof(err));

    ck_assert_msg(t != NULL, "%s", err);
    return t;
}

/* A direct TLS client, blocking, as a baseline: connect + SSL_connect. */
static SSL *direct(SSL_CTX *ctx, int port, int *fdp)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SSL *ssl = SSL_new(ctx);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, NULL);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
    ck_assert_int_eq(SSL_connect(ssl), 1);
    *fdp = fd;
    return ssl;
}

static double rtt_ssl(SSL *ssl, int32_t corr);

/* connect -> "connected", and connect -> the first response (what a client
 * really waits for before its first request is answered) */
static void handshakes(SSL_CTX *ctx, int port)
{
    double via[ROUNDS], bare[ROUNDS], via_first[ROUNDS], bare_first[ROUNDS];
    km_transport *t = transport(ctx);
    char id[64];

    snprintf(id, sizeof(id), "127.0.0.1:%d", port);
    for (int i = 0; i < ROUNDS; i++) {
        double t0 = now_us();
        int fd = lk_connect(t, port, id);
        ck_assert_int_eq(lk_wait_connected(fd, 10000), 0);
        via[i] = now_us() - t0;
        ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, 10000), 0);
        via_first[i] = now_us() - t0;
        close(fd);

        int dfd;
        t0 = now_us();
        SSL *ssl = direct(ctx, port, &dfd);
        bare[i] = now_us() - t0;
        rtt_ssl(ssl, 1);
        bare_first[i] = now_us() - t0;
        SSL_free(ssl);
        close(dfd);
    }
    km_transport_free(t);
    printf("TLS 1.3, median of %d: connect -> connected: transport %.0f us (handshake + "
           "NewSessionTicket), bare SSL_connect %.0f us; connect -> first response: transport "
           "%.0f us, bare %.0f us\n", ROUNDS, median(via, ROUNDS), median(bare, ROUNDS),
           median(via_first, ROUNDS), median(bare_first, ROUNDS));
}

/* One ApiVersions v0 round trip, over a transport fd or a direct SSL. */
static double rtt_fd(int fd, int32_t corr)
{
    double t0 = now_us();
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, corr, 10000), 0);
    return now_us() - t0;
}

static double rtt_ssl(SSL *ssl, int32_t corr)
{
    unsigned char req[64], resp[65536];
    size_t n = kafka_apiversions(req, sizeof(req), corr, "kmtls-transport-test");
    double t0 = now_us();

    ck_assert_int_eq(SSL_write(ssl, req, (int)n), (int)n);
    size_t got = 0, want = 4;
    while (got < want) {
        int r = SSL_read(ssl, resp + got, (int)(sizeof(resp) - got));
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
        if (want == 4 && got >= 4)
            want = 4 + ((size_t)resp[0] << 24 | (size_t)resp[1] << 16 | (size_t)resp[2] << 8 | resp[3]);
    }
    return now_us() - t0;
}

static void round_trips(SSL_CTX *ctx, int port)
{
    static double via[RTTS * BLOCKS / 2], bare[RTTS * BLOCKS / 2];
    km_transport *t = transport(ctx);
    char id[64];
    int nv = 0, nb = 0, dfd;
    int one = 1;

    snprintf(id, sizeof(id), "127.0.0.1:%d", port);
    int fd = lk_connect(t, port, id);
    ck_assert_int_eq(lk_wait_connected(fd, 10000), 0);
    SSL *ssl = direct(ctx, port, &dfd);
    setsockopt(dfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* alternated round trip by round trip: the machine's load hits both */
    for (int i = 0; i < RTTS * BLOCKS / 2; i++) {
        via[nv++] = rtt_fd(fd, i);
        bare[nb++] = rtt_ssl(ssl, i);
    }
    double mv = median(via, nv), mb = median(bare, nb);
    printf("ApiVersions round trip, median of %d, alternated: transport %.1f us, direct TLS "
           "%.1f us (+%.1f us)\n", nv, mv, mb, mv - mb);
    SSL_free(ssl);
    close(dfd);
    close(fd);
    km_transport_free(t);
}

static size_t heap(void)
{
    malloc_trim(0);
    return mallinfo2().uordblks;
}

static void memory(SSL_CTX *ctx, int port)
{
    km_transport *t = transport(ctx);
    char id[64];
    int fd[ROUNDS], dfd[ROUNDS];
    SSL *ssl[ROUNDS];

    snprintf(id, sizeof(id), "127.0.0.1:%d", port);
    /* one connection first, so that one-time allocations are not counted */
    int warm = lk_connect(t, port, id);
    ck_assert_int_eq(lk_wait_connected(warm, 10000), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(warm, 0, 10000), 0);
    size_t h0 = heap();
    int f0 = count_fds();
    for (int i = 0; i < ROUNDS; i++) {
        fd[i] = lk_connect(t, port, id);
        ck_assert_int_eq(lk_wait_connected(fd[i], 10000), 0);
        ck_assert_int_eq(lk_apiversions_roundtrip(fd[i], i, 10000), 0);
    }
    size_t h1 = heap();
    int f1 = count_fds();
    for (int i = 0; i < ROUNDS; i++)
        close(fd[i]);
    close(warm);
    km_transport_free(t);

    int w;
    SSL *warm_ssl = direct(ctx, port, &w);
    rtt_ssl(warm_ssl, 0);
    size_t d0 = heap();
    for (int i = 0; i < ROUNDS; i++) {
        ssl[i] = direct(ctx, port, &dfd[i]);
        rtt_ssl(ssl[i], i);
    }
    size_t d1 = heap();
    for (int i = 0; i < ROUNDS; i++) {
        SSL_free(ssl[i]);
        close(dfd[i]);
    }
    SSL_free(warm_ssl);
    close(w);
    printf("heap per idle connection (after one round trip): transport %zu B (SSL with its "
           "buffers released + 2 x 16 KiB + state), bare SSL %zu B; fds per connection: %.1f "
           "(librdkafka's end, the AF_UNIX end, the TCP socket)\n", (h1 - h0) / ROUNDS, (d1 - d0) / ROUNDS,
           (double)(f1 - f0) / ROUNDS);
}

/* set_ctx -> the idle connection moved (its new TLS connection accepted,
 * fenced, switched): the "one handshake" of the rotation bound */
static void rotation(SSL_CTX *ctx, SSL_CTX *next, int port)
{
    double took[ROUNDS];
    char id[64], err[256];

    snprintf(id, sizeof(id), "127.0.0.1:%d", port);
    for (int i = 0; i < ROUNDS; i++) {
        logsink logs;
        logsink_init(&logs);
        km_transport_config cfg = {.verify_hostname = 1, .log = logsink_cb, .log_opaque = &logs};
        km_transport *t = km_transport_new(&cfg, ctx, err, sizeof(err));
        ck_assert_msg(t != NULL, "%s", err);
        int fd = lk_connect(t, port, id);
        ck_assert_int_eq(lk_wait_connected(fd, 10000), 0);
        ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, 10000), 0);
        double t0 = now_us();
        ck_assert_int_eq(km_transport_set_ctx(t, next), 0);
        ck_assert(logsink_wait(&logs, "moved from generation 1 to 2", 10000));
        took[i] = now_us() - t0;
        ck_assert_int_eq(lk_apiversions_roundtrip(fd, 2, 10000), 0);
        close(fd);
        km_transport_free(t);
        logsink_destroy(&logs);
    }
    printf("set_ctx -> idle connection moved to the new certificate, median of %d: %.0f us\n",
           ROUNDS, median(took, ROUNDS));
}

/* Run as a Check test: the shared helpers report through ck_assert. */
START_TEST(measure)
{
    mtls_peer peer;

    af_unix_threshold();
    mtls_peer_start(&peer, NULL);
    SSL_CTX *ctx = client_ctx("app-v1", "ca", 0);
    handshakes(ctx, peer.port);
    round_trips(ctx, peer.port);
    memory(ctx, peer.port);
    SSL_CTX *next = client_ctx("app-v2", "ca", 0);
    rotation(ctx, next, peer.port);
    SSL_CTX_free(next);
    SSL_CTX_free(ctx);
    mtls_peer_stop(&peer);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("measure");
    TCase *tc = tcase_create("measure");
    SRunner *sr;

    tcase_add_test(tc, measure);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
