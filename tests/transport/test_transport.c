/*
 * The transport against real peers, driven the way librdkafka drives its
 * connect_cb socket: a fresh non-blocking TCP socket handed to
 * km_transport_connect, then POLLOUT -> SO_ERROR -> a Kafka request frame ->
 * its response. Peers: tests/peer/mtls-peer.sh (librdkafka's mock cluster
 * behind stunnel, client certificates required and logged) and
 * `openssl s_server -Verify 1`; a relay in the test records the wire and
 * holds the broker's bytes back where a test needs a response in flight.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"   /* t->work: holding the transport's thread off, for direct_* */
#include "peers.h"

#define T_CONNECT 10000   /* ms: a handshake on a loaded 2-core machine, valgrind included */
#define T_REPLY 10000

static mtls_peer peer13;   /* TLS 1.2 .. 1.3 */
static mtls_peer peer12;   /* PEER_TLS_MAX=TLSv1.2 */

static void start_peer13(void) { mtls_peer_start(&peer13, NULL); }
static void stop_peer13(void) { mtls_peer_stop(&peer13); }
static void start_peers(void)
{
    mtls_peer_start(&peer13, NULL);
    mtls_peer_start(&peer12, "TLSv1.2");
}
static void stop_peers(void)
{
    mtls_peer_stop(&peer12);
    mtls_peer_stop(&peer13);
}

static logsink logs;

static km_transport *transport_with(const km_transport_config *base, SSL_CTX *ctx)
{
    km_transport_config cfg = {0};
    char err[256];

    if (base)
        cfg = *base;
    cfg.log = logsink_cb;
    cfg.log_opaque = &logs;
    logsink_init(&logs);
    km_transport *t = km_transport_new(&cfg, ctx, err, sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);
    SSL_CTX_free(ctx);   /* the transport holds its own reference */
    return t;
}

static km_transport *transport(const km_transport_config *base, const char *identity, const char *ca,
                               int max_version)
{
    return transport_with(base, client_ctx(identity, ca, max_version));
}

static void done(km_transport *t)
{
    km_transport_free(t);
    logsink_destroy(&logs);
}

static const char *broker(int port)
{
    static char id[64];

    snprintf(id, sizeof(id), "127.0.0.1:%d", port);
    return id;
}

static km_transport_counts counts(km_transport *t, km_conn_info *conns, size_t max)
{
    km_transport_counts st;

    ck_assert_int_ge(km_transport_stats(t, &st, conns, max), 0);
    return st;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void set_identity(km_transport *t, const char *identity)
{
    SSL_CTX *ctx = client_ctx(identity, "ca", 0);
    ck_assert_int_eq(km_transport_set_ctx(t, ctx), 0);
    SSL_CTX_free(ctx);
}

static void expect_logged(const char *needle)
{
    ck_assert_msg(logsink_wait(&logs, needle, 5000), "not logged: \"%s\"; log:\n%s", needle,
                  logs.text);
}

/* ---------------------------------------------------------------- setup */

START_TEST(handshake_then_request_and_response)
{
    long mark = mtls_peer_mark(&peer13);
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    km_conn_info ci[4];
    int fd = lk_connect(t, peer13.port, broker(peer13.port));

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, T_REPLY), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 2, T_REPLY), 0);
    ck_assert(mtls_peer_wait_log(&peer13, mark, "Certificate accepted at depth=0: CN=app-v1", 5000));
    km_transport_counts st = counts(t, ci, 4);
    ck_assert_uint_eq(st.generation, 1);
    ck_assert_uint_eq(st.conns, 1);
    ck_assert_uint_eq(st.conns_up, 1);
    ck_assert_uint_eq(st.handshakes_ok, 1);
    ck_assert_uint_eq(ci[0].generation, 1);
    ck_assert_uint_eq(ci[0].requests, 2);
    ck_assert_uint_eq(ci[0].responses, 2);
    ck_assert_uint_eq(ci[0].awaiting, 0);
    ck_assert_uint_gt(ci[0].held, 0);
    ck_assert_str_eq(ci[0].broker_id, broker(peer13.port));
    expect_logged("TLS up: TLSv1.3");
    printf("held librdkafka in CONNECT with %zu filler bytes\n", ci[0].held);
    close(fd);
    done(t);
}
END_TEST

START_TEST(librdkafka_held_in_connect_until_tls_is_up)
{
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    relay *r = relay_start(peer13.port);
    km_conn_info ci[2];

    relay_hold_new(r, 1);   /* the broker's handshake bytes wait at the relay */
    int fd = lk_connect(t, relay_port(r), broker(peer13.port));
    ck_assert(relay_wait_held(r, 0, 1, T_CONNECT));
    ck_assert_msg(!lk_writable(fd, 300), "librdkafka's fd became writable before TLS was up");
    counts(t, ci, 2);
    ck_assert_int_eq(ci[0].state, KM_CONN_HANDSHAKE);
    relay_hold(r, 0, 0);
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, T_REPLY), 0);
    close(fd);
    done(t);
    relay_stop(r);
}
END_TEST

static void assert_tls_only(relay *r, int idx, const char *canary)
{
    unsigned char wire[65536];

    for (int to_server = 0; to_server <= 1; to_server++) {
        size_t n = relay_capture(r, idx, to_server, wire, sizeof(wire));
        if (n == 0)
            continue;
        /* a TLS handshake record first (0x16, version 3.x), whichever way */
        ck_assert_msg(n >= 5 && wire[0] == 0x16 && wire[1] == 0x03,
                      "first byte on the wire %s: %02x %02x", to_server ? "out" : "in", wire[0],
                      n > 1 ? wire[1] : 0);
        ck_assert_msg(memmem(wire, n, canary, strlen(canary)) == NULL,
                      "plaintext \"%s\" on the wire", canary);
    }
}

START_TEST(never_plaintext_on_the_wire)
{
    static const char canary[] = "kmtls-plaintext-canary";
    unsigned char req[128], body[65536];
    size_t n = kafka_apiversions(req, sizeof(req), 77, canary);

    /* an accepted connection: what librdkafka wrote even before it was told
     * "connected" leaves encrypted, after the handshake */
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    relay *r = relay_start(peer13.port);
    int fd = lk_connect(t, relay_port(r), broker(peer13.port));
    ck_assert_int_eq(send(fd, req, n, MSG_DONTWAIT | MSG_NOSIGNAL), (ssize_t)n);
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_gt(lk_read_frame(fd, body, sizeof(body), T_REPLY), 0);
    ck_assert(body[3] == 77);
    assert_tls_only(r, 0, canary);
    unsigned char out[65536];
    ck_assert_uint_gt(relay_capture(r, 0, 1, out, sizeof(out)), 0);
    close(fd);
    done(t);

    /* a refused one (the broker is not trusted): nothing but the handshake */
    t = transport(NULL, "app-v1", "foreign", 0);
    fd = lk_connect(t, relay_port(r), broker(peer13.port));
    ck_assert_int_eq(send(fd, req, n, MSG_DONTWAIT | MSG_NOSIGNAL), (ssize_t)n);
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), ECONNRESET);
    assert_tls_only(r, 1, canary);
    close(fd);
    done(t);
    relay_stop(r);
}
END_TEST

START_TEST(broker_unreachable_is_a_failed_connect)
{
    /* a bound port that does not listen: connects to it are refused, and
     * nobody else can take it meanwhile */
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int hole = socket(AF_INET, SOCK_STREAM, 0);
    char want[128];

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(hole, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(hole, (struct sockaddr *)&sin, &len), 0);
    int port = ntohs(sin.sin_port);

    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    int fd = lk_connect(t, port, broker(port));
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), ECONNRESET);
    snprintf(want, sizeof(want), "<3>kafka-mtls: broker %s: connect failed: Connection refused",
             broker(port));
    expect_logged(want);
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.handshakes_failed, 1);
    ck_assert_uint_eq(st.conns, 0);
    close(fd);
    close(hole);
    done(t);
}
END_TEST

START_TEST(broker_closing_reaches_librdkafka_as_eof)
{
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    relay *r = relay_start(peer13.port);
    int fd = lk_connect(t, relay_port(r), broker(peer13.port));

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, T_REPLY), 0);
    relay_stop(r);   /* the broker side goes away */
    ck_assert_int_eq(lk_closed(fd, T_REPLY), 1);
    ck_assert_uint_eq(counts(t, NULL, 0).conns, 0);
    /* librdkafka logs the disconnect; the transport adds no error of its own */
    ck_assert(!logsink_has(&logs, "<3>"));
    close(fd);
    done(t);
}
END_TEST

START_TEST(bad_arguments_leave_the_fd_alone)
{
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char longid[400];
    int fd = lk_socket(), fds = count_fds(), domain = 0;
    socklen_t len = sizeof(domain);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(longid, 'h', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    ck_assert_int_eq(km_transport_connect(NULL, fd, (struct sockaddr *)&sin, sizeof(sin), "h:1"), EINVAL);
    ck_assert_int_eq(km_transport_connect(t, -1, (struct sockaddr *)&sin, sizeof(sin), "h:1"), EINVAL);
    ck_assert_int_eq(km_transport_connect(t, fd, (struct sockaddr *)&sin, sizeof(sin), NULL), EINVAL);
    ck_assert_int_eq(km_transport_connect(t, fd, NULL, 0, "h:1"), EINVAL);
    ck_assert_int_eq(km_transport_connect(t, fd, (struct sockaddr *)&sin, 4, "h:1"), EINVAL);
    ck_assert_int_eq(km_transport_connect(t, fd, (struct sockaddr *)&sun, sizeof(sun), "h:1"),
                     EAFNOSUPPORT);
    ck_assert_int_eq(km_transport_connect(t, fd, (struct sockaddr *)&sin, sizeof(sin), longid), EINVAL);
    ck_assert_int_eq(km_transport_connect(t, fd, (struct sockaddr *)&sin, sizeof(sin), ":9092"), EINVAL);
    ck_assert_int_eq(km_transport_connect(t, fd, (struct sockaddr *)&sin, sizeof(sin), "[::1:9092"),
                     EINVAL);
    /* not librdkafka's TCP socket (an application socket_cb's, say) */
    int pair[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    ck_assert_int_eq(km_transport_connect(t, pair[0], (struct sockaddr *)&sin, sizeof(sin), "h:1"),
                     EPROTOTYPE);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(km_transport_connect(t, udp, (struct sockaddr *)&sin, sizeof(sin), "h:1"),
                     EPROTOTYPE);
    close(udp);
    close(pair[0]);
    close(pair[1]);
    /* untouched: still librdkafka's unconnected TCP socket, nothing leaked */
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len), 0);
    ck_assert_int_eq(domain, AF_INET);
    ck_assert_int_eq(count_fds(), fds);
    ck_assert_int_eq(km_transport_set_ctx(t, NULL), EINVAL);
    close(fd);
    done(t);

    char err[128];
    ck_assert_ptr_null(km_transport_new(NULL, NULL, err, sizeof(err)));
    ck_assert_str_eq(err, "kafka-mtls: transport: no SSL_CTX");
    km_transport_free(NULL);
}
END_TEST

/* ------------------------------------------------------------- refusals */

/* A connection that must fail: librdkafka sees a failed connect
 * (ECONNRESET from SO_ERROR, never "connected"), and the log names the
 * broker and says why. */
static void expect_refused(km_transport *t, int port, const char *id, const char *why)
{
    char want[512];
    int fd = lk_connect(t, port, id);

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), ECONNRESET);
    snprintf(want, sizeof(want), "<3>kafka-mtls: broker %s: %s", id, why);
    expect_logged(want);
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.handshakes_failed, 1);
    ck_assert_uint_eq(st.handshakes_ok, 0);
    close(fd);
}

START_TEST(wrong_ca_is_refused_with_the_reason)
{
    km_transport *t = transport(NULL, "app-v1", "foreign", 0);

    expect_refused(t, peer13.port, broker(peer13.port),
                   "TLS handshake failed: the broker's certificate is not trusted: self-signed "
                   "certificate in certificate chain (depth 1: /CN=kafka-mtls transport test "
                   "CA/O=kafka-mtls tests) - its CA is not among the trusted CAs (ssl.ca.*)");
    done(t);
}
END_TEST

START_TEST(name_mismatch_dns)
{
    km_transport_config cfg = {.verify_hostname = 1};
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    char id[64];

    snprintf(id, sizeof(id), "wrong.example:%d", peer13.port);
    expect_refused(t, peer13.port, id,
                   "TLS handshake failed: the broker's certificate (/CN=localhost) does not name "
                   "wrong.example (hostname mismatch; ssl.endpoint.identification.algorithm=https)");
    done(t);
}
END_TEST

START_TEST(name_mismatch_ip)
{
    km_transport_config cfg = {.verify_hostname = 1};
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    char id[64];

    snprintf(id, sizeof(id), "127.0.0.2:%d", peer13.port);
    expect_refused(t, peer13.port, id,
                   "TLS handshake failed: the broker's certificate (/CN=localhost) does not name "
                   "127.0.0.2 (IP address mismatch; ssl.endpoint.identification.algorithm=https)");
    done(t);
}
END_TEST

START_TEST(names_that_match_are_accepted)
{
    km_transport_config cfg = {.verify_hostname = 1};
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    char id[64];

    /* the server certificate has DNS:localhost and IP:127.0.0.1 */
    snprintf(id, sizeof(id), "localhost:%d", peer13.port);
    int a = lk_connect(t, peer13.port, id);
    int b = lk_connect(t, peer13.port, broker(peer13.port));
    ck_assert_int_eq(lk_wait_connected(a, T_CONNECT), 0);
    ck_assert_int_eq(lk_wait_connected(b, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(a, 1, T_REPLY), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(b, 1, T_REPLY), 0);
    close(a);
    close(b);
    done(t);
}
END_TEST

START_TEST(refused_client_certificate_tls13)
{
    long mark = mtls_peer_mark(&peer13);
    km_transport *t = transport(NULL, "stranger", "ca", 0);

    /* SSL_connect succeeds on TLS 1.3; the refusal comes after it */
    expect_refused(t, peer13.port, broker(peer13.port),
                   "the broker refused the connection after the TLS 1.3 handshake: the broker sent "
                   "TLS alert \"unknown CA\": it does not accept our client certificate (our "
                   "certificate /CN=stranger, generation 1)");
    ck_assert(mtls_peer_wait_log(&peer13, mark, "Rejected by CERT at depth=0: CN=stranger", 5000));
    done(t);
}
END_TEST

START_TEST(refused_client_certificate_tls12)
{
    long mark = mtls_peer_mark(&peer12);
    km_transport *t = transport(NULL, "stranger", "ca", 0);

    expect_refused(t, peer12.port, broker(peer12.port),
                   "TLS handshake failed: the broker sent TLS alert \"unknown CA\": it does not "
                   "accept our client certificate (our certificate /CN=stranger, generation 1)");
    ck_assert(mtls_peer_wait_log(&peer12, mark, "Rejected by CERT at depth=0: CN=stranger", 5000));
    done(t);
}
END_TEST

START_TEST(no_client_certificate_tls13)
{
    km_transport *t = transport(NULL, NULL, "ca", 0);

    expect_refused(t, peer13.port, broker(peer13.port),
                   "the broker refused the connection after the TLS 1.3 handshake: the broker sent "
                   "TLS alert \"certificate required\": it requires a client certificate (no client "
                   "certificate)");
    done(t);
}
END_TEST

/* The SSL_CTX's own verify callback (librdkafka's ssl_cert_verify_cb, in
 * the plugin) runs, on the transport's thread, and can name the broker. */
static char verified_broker[128];
static _Atomic int verify_calls;

static int record_broker(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const char *b = km_transport_ssl_broker(ssl);

    snprintf(verified_broker, sizeof(verified_broker), "%s", b ? b : "(none)");
    verify_calls++;
    return ok;
}

static int refuse_all(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

START_TEST(verify_callback_is_chained_and_names_the_broker)
{
    SSL_CTX *ctx = client_ctx("app-v1", "ca", 0);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, record_broker);
    km_transport *t = transport_with(NULL, ctx);
    int fd = lk_connect(t, peer13.port, broker(peer13.port));

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_ge(verify_calls, 2);   /* the CA and the broker's certificate */
    ck_assert_str_eq(verified_broker, broker(peer13.port));
    ck_assert_ptr_null(km_transport_ssl_broker(NULL));
    close(fd);
    done(t);

    ctx = client_ctx("app-v1", "ca", 0);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, refuse_all);
    t = transport_with(NULL, ctx);
    expect_refused(t, peer13.port, broker(peer13.port),
                   "TLS handshake failed: the broker's certificate is not trusted: application "
                   "verification failure (depth 1");
    done(t);
}
END_TEST

/* ------------------------------------------------------------- rotation */

/* A request whose response waits at the relay: in flight. */
static void request_in_flight(relay *r, int idx, int fd, int32_t corr, const char *cid)
{
    unsigned char req[128];
    size_t n = kafka_apiversions(req, sizeof(req), corr, cid);

    relay_hold(r, idx, 1);
    ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
    ck_assert(relay_wait_held(r, idx, 1, T_REPLY));
}

static int32_t corr_of(const unsigned char *body)
{
    return (int32_t)((uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 | (uint32_t)body[2] << 8 |
                     body[3]);
}

START_TEST(rotation_moves_a_connection_in_place_after_its_response)
{
    km_transport_config cfg = {.verify_hostname = 1, .drain_timeout_ms = 30000};
    long mark = mtls_peer_mark(&peer13);
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    relay *r = relay_start(peer13.port);
    unsigned char req[128], body[65536];
    km_conn_info ci[4];

    int fd = lk_connect(t, relay_port(r), broker(peer13.port));
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, T_REPLY), 0);
    request_in_flight(r, 0, fd, 2, "in-flight");

    /* the new credentials: a second TLS connection (relay pair 1) */
    set_identity(t, "app-v2");
    expect_logged("the broker accepted generation 2: waiting for 1 response(s) at a request boundary");
    ck_assert(mtls_peer_wait_log(&peer13, mark, "Certificate accepted at depth=0: CN=app-v2", T_CONNECT));
    /* fenced while its response is due: a request written now waits */
    size_t n = kafka_apiversions(req, sizeof(req), 4, "after-the-fence");
    ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
    km_transport_counts st = counts(t, ci, 4);
    ck_assert_uint_eq(st.generation, 2);
    ck_assert_uint_eq(st.conns, 1);
    ck_assert_uint_eq(st.conns_old, 1);
    ck_assert_int_eq(ci[0].state, KM_CONN_DRAINING);
    ck_assert_uint_eq(ci[0].requests, 2);
    ck_assert_uint_eq(ci[0].awaiting, 1);
    ck_assert_int_eq(lk_closed(fd, 200), 0);

    /* the response arrives on the old TLS connection, then the switch:
     * the old one closes, the fenced request goes out on the new one */
    relay_hold(r, 0, 0);
    ck_assert_int_gt(lk_read_frame(fd, body, sizeof(body), T_REPLY), 4);
    ck_assert_int_eq(corr_of(body), 2);
    ck_assert(relay_wait_closed(r, 0, T_REPLY));
    ck_assert_int_gt(lk_read_frame(fd, body, sizeof(body), T_REPLY), 4);
    ck_assert_int_eq(corr_of(body), 4);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 5, T_REPLY), 0);
    st = counts(t, ci, 4);
    ck_assert_uint_eq(st.moved, 1);
    ck_assert_uint_eq(st.drained + st.drain_timeouts + st.move_failures, 0);
    ck_assert_uint_eq(st.conns_old, 0);
    ck_assert_uint_eq(ci[0].generation, 2);
    ck_assert_uint_eq(ci[0].responses, 4);
    expect_logged("moved from generation 1 to 2 at a request boundary");
    /* the broker saw app-v1, then app-v2; librdkafka's socket never closed */
    ck_assert_int_eq(mtls_peer_count_log(&peer13, mark, "CN=app-v1"), 1);
    ck_assert_int_eq(mtls_peer_count_log(&peer13, mark, "CN=app-v2"), 1);
    ck_assert_int_eq(relay_conns(r), 2);
    close(fd);
    done(t);
    relay_stop(r);
}
END_TEST

START_TEST(refused_new_credentials_keep_the_connection)
{
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    int fd = lk_connect(t, peer13.port, broker(peer13.port));

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    set_identity(t, "stranger");
    expect_logged("the new credentials (generation 2) did not work: the broker refused the "
                  "connection after the TLS 1.3 handshake: the broker sent TLS alert \"unknown "
                  "CA\"");
    expect_logged("the connection stays on generation 1");
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, T_REPLY), 0);
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.move_failures, 1);
    ck_assert_uint_eq(st.conns_old, 1);
    /* good credentials again: it moves */
    set_identity(t, "app-v2");
    expect_logged("moved from generation 1 to 3");
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 2, T_REPLY), 0);
    ck_assert_uint_eq(counts(t, NULL, 0).moved, 1);
    close(fd);
    done(t);
}
END_TEST

START_TEST(every_connection_moves_one_at_a_time)
{
    long mark = mtls_peer_mark(&peer13);
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    int fd[4];
    km_conn_info ci[8];

    for (int i = 0; i < 4; i++) {
        fd[i] = lk_connect(t, peer13.port, broker(peer13.port));
        ck_assert_int_eq(lk_wait_connected(fd[i], T_CONNECT), 0);
        ck_assert_int_eq(lk_apiversions_roundtrip(fd[i], i, T_REPLY), 0);
    }
    set_identity(t, "app-v2");
    ck_assert(logsink_wait_count(&logs, "moved from generation 1 to 2", 4, T_REPLY * 2));
    km_transport_counts st = counts(t, ci, 8);
    ck_assert_uint_eq(st.moved, 4);
    ck_assert_uint_eq(st.conns, 4);
    ck_assert_uint_eq(st.conns_old, 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(ci[i].generation, 2);
        ck_assert_int_eq(lk_apiversions_roundtrip(fd[i], 10 + i, T_REPLY), 0);
    }
    ck_assert_int_eq(mtls_peer_count_log(&peer13, mark, "Certificate accepted at depth=0: CN=app-v2"), 4);
    for (int i = 0; i < 4; i++)
        close(fd[i]);
    done(t);
}
END_TEST

START_TEST(drain_timeout_closes_a_connection_whose_response_never_comes)
{
    km_transport_config cfg = {.drain_timeout_ms = 500};
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    relay *r = relay_start(peer13.port);

    int fd = lk_connect(t, relay_port(r), broker(peer13.port));
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    request_in_flight(r, 0, fd, 1, "held-forever");
    set_identity(t, "app-v2");
    expect_logged("generation 1 still had 1 response(s) due after drain_timeout_ms=500: closing it anyway");
    ck_assert_int_eq(lk_closed(fd, T_REPLY), 1);
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.drain_timeouts, 1);
    ck_assert_uint_eq(st.moved, 0);
    close(fd);
    done(t);
    relay_stop(r);
}
END_TEST

START_TEST(reconnect_mode_closes_after_the_response)
{
    km_transport_config cfg = {.verify_hostname = 1, .move_by_reconnect = 1, .grace_ms = 60000,
                               .drain_timeout_ms = 30000};
    long mark = mtls_peer_mark(&peer13);
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    relay *r = relay_start(peer13.port);
    unsigned char req[128], body[65536];
    km_conn_info ci[4];

    int old = lk_connect(t, relay_port(r), broker(peer13.port));
    ck_assert_int_eq(lk_wait_connected(old, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(old, 1, T_REPLY), 0);
    request_in_flight(r, 0, old, 2, "in-flight");

    set_identity(t, "app-v2");
    int fresh = lk_connect(t, relay_port(r), broker(peer13.port));
    ck_assert_int_eq(lk_wait_connected(fresh, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fresh, 3, T_REPLY), 0);
    ck_assert(mtls_peer_wait_log(&peer13, mark, "Certificate accepted at depth=0: CN=app-v2", 5000));

    /* another connection is up: the old one drains, but stays while its
     * response is due; a request written now is not forwarded (fenced) */
    size_t n = kafka_apiversions(req, sizeof(req), 4, "after-the-fence");
    ck_assert_int_eq(lk_write_all(old, req, n, T_REPLY), 0);
    ck_assert_int_eq(lk_closed(old, 300), 0);
    km_transport_counts st = counts(t, ci, 4);
    ck_assert_uint_eq(st.conns_old, 1);
    for (int i = 0; i < 2; i++)
        if (ci[i].generation == 1) {
            ck_assert_int_eq(ci[i].state, KM_CONN_DRAINING);
            ck_assert_uint_eq(ci[i].requests, 2);
            ck_assert_uint_eq(ci[i].awaiting, 1);
        }

    /* the response arrives: delivered in full, then the close; the fenced
     * request never reached the broker (librdkafka would retry it) */
    relay_hold(r, 0, 0);
    ck_assert_int_gt(lk_read_frame(old, body, sizeof(body), T_REPLY), 4);
    ck_assert_int_eq(corr_of(body), 2);
    ck_assert_int_le(lk_read_frame(old, body, sizeof(body), T_REPLY), 0);
    st = counts(t, ci, 4);
    ck_assert_uint_eq(st.drained, 1);
    ck_assert_uint_eq(st.conns, 1);
    ck_assert_uint_eq(ci[0].generation, 2);
    expect_logged("closed at a request boundary, every response delivered (2 requests, 2 responses)");
    ck_assert_int_eq(mtls_peer_count_log(&peer13, mark, "CN=app-v1"), 1);
    ck_assert_int_eq(mtls_peer_count_log(&peer13, mark, "CN=app-v2"), 1);
    close(old);
    close(fresh);
    done(t);
    relay_stop(r);
}
END_TEST

START_TEST(reconnect_mode_drain_timeout)
{
    static const char *const tls13[] = {"-tls1_3", NULL};
    km_transport_config cfg = {.move_by_reconnect = 1, .grace_ms = 200, .drain_timeout_ms = 500};
    sserver s;
    unsigned char req[128];

    sserver_start(&s, tls13);
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    int fd = lk_connect(t, s.port, broker(s.port));
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    /* s_server prints what it receives and never answers a Kafka request */
    size_t n = kafka_apiversions(req, sizeof(req), 9, "no-answer-ever");
    ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
    ck_assert(sserver_wait_output(&s, "no-answer-ever", T_REPLY));

    long t0 = now_ms();
    set_identity(t, "app-v2");
    ck_assert_int_eq(lk_closed(fd, T_REPLY), 1);
    long took = now_ms() - t0;
    /* alone: the grace period, then the drain timeout */
    ck_assert_msg(took >= 650 && took < 5000, "closed after %ld ms", took);
    expect_logged("<4>kafka-mtls: broker");
    expect_logged("still had 1 response(s) due after drain_timeout_ms=500: closing it anyway");
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.drain_timeouts, 1);
    ck_assert_uint_eq(st.drained, 0);
    printf("drain timeout: closed %ld ms after the rotation (grace 200 + drain 500)\n", took);
    close(fd);
    done(t);
    sserver_stop(&s);
}
END_TEST

START_TEST(reconnect_mode_single_connection_waits_out_the_grace_period)
{
    km_transport_config cfg = {.move_by_reconnect = 1, .grace_ms = 500, .drain_timeout_ms = 5000};
    long mark = mtls_peer_mark(&peer13);
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    int fd = lk_connect(t, peer13.port, broker(peer13.port));

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, T_REPLY), 0);
    long t0 = now_ms();
    set_identity(t, "app-v2");
    /* idle, but the only connection: not closed before the grace period */
    ck_assert_int_eq(lk_closed(fd, 250), 0);
    ck_assert_int_eq(lk_closed(fd, T_REPLY), 1);
    long took = now_ms() - t0;
    ck_assert_msg(took >= 450 && took < 5000, "closed after %ld ms", took);
    ck_assert_uint_eq(counts(t, NULL, 0).drained, 1);
    close(fd);
    /* librdkafka reconnects: the new certificate */
    fd = lk_connect(t, peer13.port, broker(peer13.port));
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 2, T_REPLY), 0);
    ck_assert(mtls_peer_wait_log(&peer13, mark, "Certificate accepted at depth=0: CN=app-v2", 5000));
    close(fd);
    done(t);
}
END_TEST

START_TEST(sasl_connection_moves_by_reconnecting)
{
    static const char *const tls13[] = {"-tls1_3", NULL};
    km_transport_config cfg = {.grace_ms = 200, .drain_timeout_ms = 300};
    sserver s;

    sserver_start(&s, tls13);
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    int fd = lk_connect(t, s.port, broker(s.port));
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    /* SaslHandshake v1, mechanism PLAIN: the broker would now hold this
     * connection's authentication, which a new TLS connection would not
     * have (s_server only prints it) */
    static const unsigned char sasl[] = {0, 0, 0, 18, 0, 17, 0, 1, 0, 0, 0, 7, 0, 1, 'c',
                                         0, 5, 'P', 'L', 'A', 'I', 'N'};
    ck_assert_int_eq(lk_write_all(fd, sasl, sizeof(sasl), T_REPLY), 0);
    ck_assert(sserver_wait_output(&s, "PLAIN", T_REPLY));
    set_identity(t, "app-v2");
    expect_logged("draining the connection of generation 1 to close it");
    ck_assert_int_eq(lk_closed(fd, T_REPLY), 1);
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.moved, 0);
    ck_assert_uint_eq(st.drain_timeouts, 1);   /* s_server never answers */
    close(fd);
    done(t);
    sserver_stop(&s);
}
END_TEST

/* The race a SASL_SSL client hit against a genuine broker: its connection
 * was new when the credentials changed, so its move began in place (no
 * SASL seen yet), and librdkafka's SaslHandshake went out while the spare
 * was still in its handshake. Switching would have put the requests on an
 * unauthenticated connection, which the broker closed. */
START_TEST(sasl_after_the_move_began_moves_by_reconnecting)
{
    km_transport_config cfg = {.grace_ms = 200, .drain_timeout_ms = 1000};
    km_conn_info ci[2];
    relay *r = relay_start(peer13.port);
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    int fd = lk_connect(t, relay_port(r), broker(peer13.port));

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    relay_hold(r, 0, 1);             /* the broker's answer to what follows waits */
    relay_hold_new(r, 1);            /* and so does the spare's handshake */
    set_identity(t, "app-v2");
    expect_logged("opening a TLS connection with generation 2 beside the one of generation 1");
    ck_assert(relay_wait_held(r, 1, 1, T_CONNECT));
    /* SaslHandshake v1, PLAIN, forwarded on the connection being moved */
    static const unsigned char sasl[] = {0, 0, 0, 18, 0, 17, 0, 1, 0, 0, 0, 7, 0, 1, 'c',
                                         0, 5, 'P', 'L', 'A', 'I', 'N'};
    ck_assert_int_eq(lk_write_all(fd, sasl, sizeof(sasl), T_REPLY), 0);
    long until = now_ms() + T_REPLY;
    do
        counts(t, ci, 2);
    while (ci[0].requests < 1 && now_ms() < until);
    ck_assert_uint_eq(ci[0].requests, 1);
    relay_hold(r, 1, 0);             /* the spare comes up: too late to switch to */
    expect_logged("the connection authenticated with SASL after its move began: it moves by reconnecting instead");
    expect_logged("draining the connection of generation 1 to close it");
    ck_assert_int_eq(lk_closed(fd, T_REPLY), 1);
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.moved, 0);
    ck_assert_uint_eq(st.drain_timeouts, 1);   /* its answer never came through */
    close(fd);
    done(t);
    relay_stop(r);
}
END_TEST

START_TEST(keep_old_leaves_old_connections_alone)
{
    km_transport_config cfg = {.keep_old = 1, .grace_ms = 1, .drain_timeout_ms = 1};
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    int old = lk_connect(t, peer13.port, broker(peer13.port));

    ck_assert_int_eq(lk_wait_connected(old, T_CONNECT), 0);
    set_identity(t, "app-v2");
    int fresh = lk_connect(t, peer13.port, broker(peer13.port));
    ck_assert_int_eq(lk_wait_connected(fresh, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fresh, 1, T_REPLY), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(old, 2, T_REPLY), 0);
    ck_assert_int_eq(lk_closed(old, 300), 0);
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.conns, 2);
    ck_assert_uint_eq(st.conns_old, 1);
    expect_logged("are kept until they close (keep_old)");
    close(old);
    close(fresh);
    done(t);
}
END_TEST

/* ------------------------------------------------------------ lifecycle */

/* -------------------------------------------- requests from librdkafka's thread */

static void block_sigpipe(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
}

/* A broker on this host has the TCP connect done by the time connect_cb's
 * connect returns: the ClientHello leaves from the caller's thread (one
 * that blocks SIGPIPE, as librdkafka's do), the transport's thread takes
 * the handshake on from there, and the connection is as any other. */
START_TEST(clienthello_leaves_from_the_connecting_thread)
{
    long mark = mtls_peer_mark(&peer13);
    km_transport *t;
    int fd;

    block_sigpipe();
    t = transport(NULL, "app-v1", "ca", 0);
    fd = lk_connect(t, peer13.port, broker(peer13.port));
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_eq(lk_apiversions_roundtrip(fd, 1, T_REPLY), 0);
    ck_assert(mtls_peer_wait_log(&peer13, mark, "Certificate accepted at depth=0: CN=app-v1", 5000));
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.prestarted, 1);
    ck_assert_uint_eq(st.handshakes_ok, 1);
    close(fd);
    done(t);
}
END_TEST

/* The transport's thread is held off (its lock taken here), so nobody but
 * the caller can have forwarded the request when the response comes. */
START_TEST(direct_request_is_sent_by_the_calling_thread)
{
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    unsigned char req[256], body[65536];
    size_t n = kafka_apiversions(req, sizeof(req), 7, "kmtls-direct");
    km_conn_info ci[2];
    int fd = lk_connect(t, peer13.port, broker(peer13.port));

    block_sigpipe();
    /* not UP yet: still the transport's thread's alone */
    ck_assert_int_eq(km_transport_request_sent(t, fd), 0);
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    ck_assert_int_eq(km_transport_request_sent(t, fd + 100), 0);   /* not a connection of t */
    pthread_mutex_lock(&t->work);
    ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
    ck_assert_int_eq(km_direct_forward(t, fd), 1);
    pthread_mutex_unlock(&t->work);
    long len = lk_read_frame(fd, body, sizeof(body), T_REPLY);
    ck_assert_int_ge(len, 10);
    ck_assert_int_eq(corr_of(body), 7);
    km_transport_counts st = counts(t, ci, 2);
    ck_assert_uint_eq(st.direct, 1);
    ck_assert_uint_eq(ci[0].requests, 1);
    ck_assert_uint_eq(ci[0].responses, 1);
    /* nothing left to send: the next call finds no request */
    ck_assert_int_eq(km_transport_request_sent(t, fd), 0);
    close(fd);
    done(t);
}
END_TEST

/* Both threads race for every request, as they do under librdkafka: each
 * request reaches the broker exactly once, every response comes back. */
START_TEST(direct_and_transport_thread_share_a_connection)
{
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    km_conn_info ci[2];
    int fd = lk_connect(t, peer13.port, broker(peer13.port));
    unsigned direct = 0;
    enum { ROUNDS = 300 };

    block_sigpipe();
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    for (int32_t corr = 1; corr <= ROUNDS; corr++) {
        unsigned char req[256], body[65536];
        size_t n = kafka_apiversions(req, sizeof(req), corr, "kmtls-direct");

        ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
        direct += (unsigned)km_transport_request_sent(t, fd);
        long len = lk_read_frame(fd, body, sizeof(body), T_REPLY);
        ck_assert_msg(len >= 10, "no response to request %d", corr);
        ck_assert_int_eq(corr_of(body), corr);
    }
    km_transport_counts st = counts(t, ci, 2);
    ck_assert_uint_eq(st.direct, direct);
    ck_assert_uint_eq(ci[0].requests, ROUNDS);
    ck_assert_uint_eq(ci[0].responses, ROUNDS);
    printf("direct: %u of %d requests sent by the calling thread\n", direct, ROUNDS);
    close(fd);
    done(t);
}
END_TEST

/* A request librdkafka's thread forwarded itself, then waits for: the
 * thread that called km_transport_request_sent. */
typedef struct waiter {
    km_transport *t;
    int fd;
    int32_t corr;
    int forwarded;
    long returned_ms;
} waiter;

static void *send_and_wait(void *arg)
{
    waiter *w = arg;
    unsigned char req[256];
    size_t n = kafka_apiversions(req, sizeof(req), w->corr, "kmtls-reply-wait");

    block_sigpipe();
    ck_assert_int_eq(lk_write_all(w->fd, req, n, T_REPLY), 0);
    w->forwarded = km_transport_request_sent(w->t, w->fd);
    w->returned_ms = now_ms();
    return NULL;
}

/* until a thread is in its reply wait (the transport's own count) */
static void await_waiting(km_transport *t)
{
    long until = now_ms() + T_REPLY;

    while (atomic_load(&t->waiting) == 0) {
        ck_assert_msg(now_ms() < until, "no reply wait began");
        usleep(1000);
    }
}

static int readable_now(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* A first request forwarded by the calling thread for certain (the
 * transport's thread held off meanwhile, as in
 * direct_request_is_sent_by_the_calling_thread): the connection is then
 * quiet, so the next requests are the caller's alone. answered: read the
 * response, and forget the reply time it taught (the gate of the wait
 * starts open, however slow this machine is). */
static void make_quiet(km_transport *t, int fd, int32_t corr, int answered)
{
    unsigned char req[256], body[65536];
    size_t n = kafka_apiversions(req, sizeof(req), corr, "kmtls-make-quiet");

    block_sigpipe();
    pthread_mutex_lock(&t->work);
    /* quiet before the write, as it would be after an earlier request: no
     * event of this write is left pending for the transport's thread, which
     * would read P whenever it got to it */
    t->conns->quiet = 1;
    t->conns->caught_ms = 0;
    km_conn_interest(t->conns);
    km_wake(t);   /* it ticks from its next loop on, as km_direct_forward has it */
    ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
    ck_assert_int_eq(km_direct_forward(t, fd), 1);
    ck_assert_int_eq(t->conns->quiet, 1);
    pthread_mutex_unlock(&t->work);
    if (!answered)
        return;
    ck_assert_int_ge(lk_read_frame(fd, body, sizeof(body), T_REPLY), 10);
    ck_assert_int_eq(corr_of(body), corr);
    pthread_mutex_lock(&t->work);
    t->conns->reply_us = 0;
    pthread_mutex_unlock(&t->work);
}

/* A reply wait under way: a 1 s transport through a relay, a first request
 * that makes the connection quiet, then a thread whose request's response
 * the relay holds back while the thread waits for it. */
typedef struct held_wait {
    km_transport *t;
    relay *r;
    int fd;
    waiter w;
    pthread_t th;
} held_wait;

static void held_wait_start(held_wait *h, int32_t corr)
{
    km_transport_config cfg = {.reply_wait_us = 1000000};

    h->t = transport(&cfg, "app-v1", "ca", 0);
    h->r = relay_start(peer13.port);
    h->fd = lk_connect(h->t, relay_port(h->r), broker(peer13.port));
    h->w = (waiter){.t = h->t, .fd = h->fd, .corr = corr};
    ck_assert_int_eq(lk_wait_connected(h->fd, T_CONNECT), 0);
    make_quiet(h->t, h->fd, 40, 1);
    relay_hold(h->r, 0, 1);
    ck_assert_int_eq(pthread_create(&h->th, NULL, send_and_wait, &h->w), 0);
    await_waiting(h->t);
}

static void held_wait_done(held_wait *h)
{
    close(h->fd);
    done(h->t);
    relay_stop(h->r);
}

/* The response of a request alone in flight is taken by the thread that
 * sent it: when km_transport_request_sent returns, it is already in
 * librdkafka's socket, and the transport's thread never touched it. The
 * relay holds the broker's bytes until the wait is seen to be on. */
START_TEST(reply_is_taken_by_the_thread_that_sent_the_request)
{
    unsigned char body[65536];
    held_wait h;

    held_wait_start(&h, 41);
    ck_assert(relay_wait_held(h.r, 0, 1, T_REPLY));
    relay_hold(h.r, 0, 0);
    pthread_join(h.th, NULL);
    ck_assert_int_eq(h.w.forwarded, 1);
    ck_assert_msg(readable_now(h.fd), "the response was not in the socket when the call returned");
    ck_assert_int_ge(lk_read_frame(h.fd, body, sizeof(body), T_REPLY), 10);
    ck_assert_int_eq(corr_of(body), 41);
    km_transport_counts st = counts(h.t, NULL, 0);
    ck_assert_uint_eq(st.direct, 2);
    ck_assert_uint_eq(st.reply_waits, 1);
    ck_assert_uint_eq(st.replies_direct, 1);
    held_wait_done(&h);
}
END_TEST

/* The application has a new message: km_transport_nudge ends the wait at
 * once (the response, still held, then comes through the transport's
 * thread). Without the nudge the call would return when its 1 s is up. */
START_TEST(nudge_ends_a_reply_wait)
{
    unsigned char body[65536];
    held_wait h;

    held_wait_start(&h, 42);
    long nudged = now_ms();
    km_transport_nudge(h.t);
    pthread_join(h.th, NULL);
    ck_assert_int_eq(h.w.forwarded, 1);
    ck_assert_msg(h.w.returned_ms - nudged < 800, "returned %ld ms after the nudge", h.w.returned_ms - nudged);
    ck_assert(!readable_now(h.fd));
    relay_hold(h.r, 0, 0);
    ck_assert_int_ge(lk_read_frame(h.fd, body, sizeof(body), T_REPLY), 10);
    ck_assert_int_eq(corr_of(body), 42);
    km_transport_counts st = counts(h.t, NULL, 0);
    ck_assert_uint_eq(st.reply_waits, 1);
    ck_assert_uint_eq(st.replies_direct, 0);
    ck_assert_int_eq(atomic_load(&h.t->waiting), 0);
    km_transport_nudge(h.t);   /* nobody waits: nothing happens */
    held_wait_done(&h);
}
END_TEST

/* A broker slower than half the wait: after one wait that ran out, the
 * thread no longer waits (the reply time it learnt says it would be in
 * vain), and every response still arrives. */
START_TEST(slow_replies_turn_the_wait_off)
{
    km_transport_config cfg = {.reply_wait_us = 2000};
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    relay *r = relay_start(peer13.port);
    int fd = lk_connect(t, relay_port(r), broker(peer13.port));
    unsigned char body[65536];

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    make_quiet(t, fd, 100, 1);
    for (int32_t corr = 1; corr <= 4; corr++) {
        unsigned char req[256];
        size_t n = kafka_apiversions(req, sizeof(req), corr, "kmtls-slow");

        relay_hold(r, 0, 1);
        ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
        ck_assert_int_eq(km_transport_request_sent(t, fd), 1);
        ck_assert(relay_wait_held(r, 0, 1, T_REPLY));
        usleep(20000);   /* the broker takes 20 ms: ten times the wait */
        relay_hold(r, 0, 0);
        ck_assert_int_ge(lk_read_frame(fd, body, sizeof(body), T_REPLY), 10);
        ck_assert_int_eq(corr_of(body), corr);
    }
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.direct, 5);
    ck_assert_uint_eq(st.reply_waits, 1);
    ck_assert_uint_eq(st.replies_direct, 0);
    close(fd);
    done(t);
    relay_stop(r);
}
END_TEST

START_TEST(reply_wait_can_be_turned_off)
{
    km_transport_config cfg = {.reply_wait_us = -1};
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    int fd = lk_connect(t, peer13.port, broker(peer13.port));
    unsigned char body[65536];

    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    make_quiet(t, fd, 100, 1);
    for (int32_t corr = 1; corr <= 5; corr++) {
        unsigned char req[256];
        size_t n = kafka_apiversions(req, sizeof(req), corr, "kmtls-no-wait");

        ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
        ck_assert_int_eq(km_transport_request_sent(t, fd), 1);
        ck_assert_int_ge(lk_read_frame(fd, body, sizeof(body), T_REPLY), 10);
        ck_assert_int_eq(corr_of(body), corr);
    }
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.direct, 6);
    ck_assert_uint_eq(st.reply_waits, 0);
    close(fd);
    done(t);
}
END_TEST

/* Quiet: after a request forwarded by its caller, the transport's thread
 * no longer watches for librdkafka's bytes. Bytes that no call follows -
 * here a frame, then one bigger than the socket pair holds, which can only
 * be written while someone reads it - still reach the broker: the quiet
 * tick finds them. s_server prints what it receives and never answers. */
START_TEST(quiet_connection_still_forwards_bytes_no_call_follows)
{
    static const char *const tls13[] = {"-tls1_3", NULL};
    km_transport_config cfg = {.reply_wait_us = -1};
    enum { BIG = 1 << 20 };
    unsigned char req[128], *big = malloc(BIG);
    sserver s;

    ck_assert_ptr_nonnull(big);
    sserver_start(&s, tls13);
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    int fd = lk_connect(t, s.port, broker(s.port));
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    make_quiet(t, fd, 1, 0);
    ck_assert(sserver_wait_output(&s, "kmtls-make-quiet", T_REPLY));
    size_t n;

    /* written while the transport's thread is held off, so the connection
     * is still quiet (not yet past KM_QUIET_IDLE_MS) when it looks */
    n = kafka_apiversions(req, sizeof(req), 2, "kmtls-no-call-after");
    pthread_mutex_lock(&t->work);
    ck_assert_int_eq(t->conns->quiet, 1);
    ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
    pthread_mutex_unlock(&t->work);
    ck_assert(sserver_wait_output(&s, "kmtls-no-call-after", T_REPLY));
    ck_assert_uint_eq(counts(t, NULL, 0).quiet_catches, 1);

    /* after a catch the transport's thread watches P again */
    pthread_mutex_lock(&t->work);
    ck_assert_int_eq(t->conns->quiet, 0);
    ck_assert(t->conns->plain.events & EPOLLIN);
    pthread_mutex_unlock(&t->work);
    make_quiet(t, fd, 4, 0);
    /* 1 MiB in one frame; lk_write_all returns only once all of it is in */
    memset(big, 'b', BIG);
    big[0] = (BIG - 4) >> 24, big[1] = ((BIG - 4) >> 16) & 0xff, big[2] = ((BIG - 4) >> 8) & 0xff, big[3] = 0;
    pthread_mutex_lock(&t->work);
    ck_assert_int_eq(t->conns->quiet, 1);
    pthread_mutex_unlock(&t->work);
    ck_assert_int_eq(lk_write_all(fd, big, BIG, T_REPLY), 0);
    km_transport_counts st = counts(t, NULL, 0);
    ck_assert_uint_eq(st.quiet_catches, 2);
    ck_assert_uint_eq(st.direct, 2);
    close(fd);
    done(t);
    sserver_stop(&s);
    free(big);
}
END_TEST

/* SSL_write would raise SIGPIPE in a thread that lets it through */
START_TEST(direct_needs_sigpipe_blocked)
{
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    int fd = lk_connect(t, peer13.port, broker(peer13.port));
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
    for (int32_t corr = 1; corr <= 20; corr++) {
        unsigned char req[256], body[65536];
        size_t n = kafka_apiversions(req, sizeof(req), corr, "kmtls-direct");

        ck_assert_int_eq(lk_write_all(fd, req, n, T_REPLY), 0);
        ck_assert_int_eq(km_transport_request_sent(t, fd), 0);
        ck_assert_int_ge(lk_read_frame(fd, body, sizeof(body), T_REPLY), 10);
    }
    ck_assert_uint_eq(counts(t, NULL, 0).direct, 0);
    ck_assert_uint_eq(counts(t, NULL, 0).prestarted, 0); /* nor the ClientHello */
    close(fd);
    done(t);
}
END_TEST

/* A broker on [::1]: librdkafka names it "[::1]:PORT" (2.0.2 and 2.12.0),
 * its metadata "::1:PORT"; both are checked against the certificate's
 * IP:::1 (no SNI for an address), another address is refused by name, and
 * a connection moves in place over IPv6 (the transport's second TCP
 * connection is opened in the address family librdkafka used). */
static mtls_peer peer6;
static void start_peer6(void) { mtls_peer_start_ipv6(&peer6); }
static void stop_peer6(void) { mtls_peer_stop(&peer6); }

START_TEST(ipv6_broker_names_checked_and_moved)
{
    km_transport_config cfg = {.verify_hostname = 1};
    long mark = mtls_peer_mark(&peer6);
    km_transport *t = transport(&cfg, "app-v1", "ca", 0);
    char bracketed[64], bare[64], other[64], want[256];
    int fd[2];

    snprintf(bracketed, sizeof(bracketed), "[::1]:%d", peer6.port);
    snprintf(bare, sizeof(bare), "::1:%d", peer6.port);
    snprintf(other, sizeof(other), "[::2]:%d", peer6.port);
    fd[0] = lk_connect6(t, peer6.port, bracketed);
    fd[1] = lk_connect6(t, peer6.port, bare);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(lk_wait_connected(fd[i], T_CONNECT), 0);
        ck_assert_int_eq(lk_apiversions_roundtrip(fd[i], 1 + i, T_REPLY), 0);
    }
    ck_assert(mtls_peer_wait_count(&peer6, mark, "-v6] accepted connection from ::1:", 2, 5000));
    set_identity(t, "app-v2");
    ck_assert(logsink_wait_count(&logs, "moved from generation 1 to 2", 2, T_REPLY * 2));
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(lk_apiversions_roundtrip(fd[i], 10 + i, T_REPLY), 0);
    ck_assert_int_eq(mtls_peer_count_log(&peer6, mark, "Certificate accepted at depth=0: CN=app-v2"), 2);
    ck_assert(mtls_peer_wait_count(&peer6, mark, "-v6] accepted connection from ::1:", 4, 5000));
    ck_assert_int_eq(mtls_peer_count_log(&peer6, mark, "accepted connection from 127."), 0);
    ck_assert_uint_eq(counts(t, NULL, 0).moved, 2);

    int bad = lk_connect6(t, peer6.port, other);
    ck_assert_int_eq(lk_wait_connected(bad, T_CONNECT), ECONNRESET);
    snprintf(want, sizeof(want), "<3>kafka-mtls: broker %s: TLS handshake failed: the broker's certificate "
             "(/CN=localhost) does not name ::2 (IP address mismatch; "
             "ssl.endpoint.identification.algorithm=https)", other);
    expect_logged(want);
    close(bad);
    for (int i = 0; i < 2; i++)
        close(fd[i]);
    done(t);
}
END_TEST

START_TEST(free_with_connections_open_leaves_nothing)
{
    int fds0 = count_fds(), threads0 = count_threads();
    relay *r = relay_start(peer13.port);
    km_transport *t = transport(NULL, "app-v1", "ca", 0);
    int fd[5];

    ck_assert_int_eq(count_threads(), threads0 + 2);
    for (int i = 0; i < 3; i++) {
        fd[i] = lk_connect(t, peer13.port, broker(peer13.port));
        ck_assert_int_eq(lk_wait_connected(fd[i], T_CONNECT), 0);
        ck_assert_int_eq(lk_apiversions_roundtrip(fd[i], i, T_REPLY), 0);
    }
    relay_hold_new(r, 1);
    fd[3] = lk_connect(t, relay_port(r), broker(peer13.port));   /* in its handshake */
    ck_assert(relay_wait_held(r, 0, 1, T_CONNECT));
    fd[4] = lk_connect(t, peer13.port, broker(peer13.port));     /* just handed over */
    done(t);
    /* every end the transport held is closed: librdkafka's ends see it */
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(lk_closed(fd[i], 2000), 1);
        close(fd[i]);
    }
    relay_stop(r);
    ck_assert_int_eq(count_fds(), fds0);
    ck_assert_int_eq(count_threads(), threads0);
}
END_TEST

START_TEST(create_and_free_cycles_leave_nothing)
{
    int fds0 = count_fds(), threads0 = count_threads();

    for (int i = 0; i < 20; i++) {
        km_transport *t = transport(NULL, i % 2 ? "app-v1" : "app-v2", "ca", 0);
        int fd = lk_connect(t, peer13.port, broker(peer13.port));
        if (i % 3 == 0) {   /* sometimes freed mid-handshake */
            ck_assert_int_eq(lk_wait_connected(fd, T_CONNECT), 0);
            ck_assert_int_eq(lk_apiversions_roundtrip(fd, i, T_REPLY), 0);
        }
        if (i % 4 == 0)
            set_identity(t, "app-v1");
        done(t);
        close(fd);
    }
    ck_assert_int_eq(count_fds(), fds0);
    ck_assert_int_eq(count_threads(), threads0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("transport");
    TCase *setup = tcase_create("setup"), *refusals = tcase_create("refusals"),
          *rotation = tcase_create("rotation"), *lifecycle = tcase_create("lifecycle"),
          *direct = tcase_create("direct"), *ipv6 = tcase_create("ipv6");
    SRunner *sr;
    int failed;

    /* one peer per group, started once (outside the forked tests) */
    tcase_add_unchecked_fixture(setup, start_peer13, stop_peer13);
    tcase_add_test(setup, handshake_then_request_and_response);
    tcase_add_test(setup, librdkafka_held_in_connect_until_tls_is_up);
    tcase_add_test(setup, never_plaintext_on_the_wire);
    tcase_add_test(setup, broker_unreachable_is_a_failed_connect);
    tcase_add_test(setup, broker_closing_reaches_librdkafka_as_eof);
    tcase_add_test(setup, bad_arguments_leave_the_fd_alone);

    tcase_add_unchecked_fixture(refusals, start_peers, stop_peers);
    tcase_add_test(refusals, wrong_ca_is_refused_with_the_reason);
    tcase_add_test(refusals, name_mismatch_dns);
    tcase_add_test(refusals, name_mismatch_ip);
    tcase_add_test(refusals, names_that_match_are_accepted);
    tcase_add_test(refusals, refused_client_certificate_tls13);
    tcase_add_test(refusals, refused_client_certificate_tls12);
    tcase_add_test(refusals, no_client_certificate_tls13);
    tcase_add_test(refusals, verify_callback_is_chained_and_names_the_broker);

    tcase_add_unchecked_fixture(rotation, start_peer13, stop_peer13);
    tcase_add_test(rotation, rotation_moves_a_connection_in_place_after_its_response);
    tcase_add_test(rotation, refused_new_credentials_keep_the_connection);
    tcase_add_test(rotation, every_connection_moves_one_at_a_time);
    tcase_add_test(rotation, drain_timeout_closes_a_connection_whose_response_never_comes);
    tcase_add_test(rotation, reconnect_mode_closes_after_the_response);
    tcase_add_test(rotation, reconnect_mode_drain_timeout);
    tcase_add_test(rotation, reconnect_mode_single_connection_waits_out_the_grace_period);
    tcase_add_test(rotation, sasl_connection_moves_by_reconnecting);
    tcase_add_test(rotation, sasl_after_the_move_began_moves_by_reconnecting);
    tcase_add_test(rotation, keep_old_leaves_old_connections_alone);

    tcase_add_unchecked_fixture(lifecycle, start_peer13, stop_peer13);
    tcase_add_unchecked_fixture(direct, start_peer13, stop_peer13);
    tcase_add_test(direct, clienthello_leaves_from_the_connecting_thread);
    tcase_add_test(direct, direct_request_is_sent_by_the_calling_thread);
    tcase_add_test(direct, direct_and_transport_thread_share_a_connection);
    tcase_add_test(direct, direct_needs_sigpipe_blocked);
    tcase_add_test(direct, reply_is_taken_by_the_thread_that_sent_the_request);
    tcase_add_test(direct, nudge_ends_a_reply_wait);
    tcase_add_test(direct, slow_replies_turn_the_wait_off);
    tcase_add_test(direct, reply_wait_can_be_turned_off);
    tcase_add_test(direct, quiet_connection_still_forwards_bytes_no_call_follows);
    tcase_add_test(lifecycle, free_with_connections_open_leaves_nothing);
    tcase_add_test(lifecycle, create_and_free_cycles_leave_nothing);
    tcase_add_unchecked_fixture(ipv6, start_peer6, stop_peer6);
    tcase_add_test(ipv6, ipv6_broker_names_checked_and_moved);

    TCase *all[] = {setup, refusals, rotation, direct, lifecycle, ipv6};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_set_timeout(all[i], 120);
        suite_add_tcase(s, all[i]);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
