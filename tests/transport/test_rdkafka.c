/*
 * The transport under a real librdkafka (the one the system has; 2.0.2 on
 * Debian 12), wired the way the plugin will wire it: security.protocol
 * plaintext, connect_cb calling km_transport_connect. Shows what librdkafka
 * itself logs when TLS fails, and that a rotation in the middle of a
 * produce and of a consume loses and duplicates nothing while the broker
 * sees the old certificate, then the new one, from one client instance.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "peers.h"

#define N_MSGS 4000
#define TOPIC "kmtls-rotation"

static mtls_peer peer;
static logsink ours;      /* the transport's log */
static logsink theirs;    /* librdkafka's log_cb and error_cb */
static km_transport *current;

static void start_peer(void) { mtls_peer_start(&peer, NULL); }
static void stop_peer(void) { mtls_peer_stop(&peer); }

/* librdkafka's connect_cb, as the plugin will have it */
static int connect_cb(int fd, const struct sockaddr *addr, int addrlen, const char *id, void *opaque)
{
    (void)opaque;
    return km_transport_connect(current, fd, addr, (socklen_t)addrlen, id);
}

/* and its on_request_sent, as the plugin has it: requests go out from
 * librdkafka's broker thread (km_transport_request_sent) */
static rd_kafka_resp_err_t on_request_sent(rd_kafka_t *rk, int sockfd, const char *brokername, int32_t brokerid,
                                           int16_t api_key, int16_t api_version, int32_t corr_id, size_t size,
                                           void *opaque)
{
    (void)rk, (void)brokername, (void)brokerid, (void)api_key, (void)api_version, (void)corr_id, (void)size;
    (void)opaque;
    km_transport_request_sent(current, sockfd);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf, void *opaque, char *errstr,
                                  size_t errstr_size)
{
    (void)conf, (void)opaque, (void)errstr, (void)errstr_size;
    return rd_kafka_interceptor_add_on_request_sent(rk, "kmtls-test", on_request_sent, NULL);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    char line[1024];

    (void)rk;
    snprintf(line, sizeof(line), "%s: %s", fac, buf);
    logsink_cb(&theirs, level, line);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    char line[1024];

    (void)rk, (void)opaque;
    snprintf(line, sizeof(line), "ERROR %s: %s", rd_kafka_err2name(err), reason);
    logsink_cb(&theirs, LOG_ERR, line);
}

static int delivered_ok, delivered_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err)
        delivered_failed++;
    else
        delivered_ok++;
}

static km_transport *transport(const char *identity, const char *ca)
{
    km_transport_config cfg = {.verify_hostname = 1, .grace_ms = 1000, .drain_timeout_ms = 10000,
                               .log = logsink_cb, .log_opaque = &ours};
    char err[256];
    SSL_CTX *ctx = client_ctx(identity, ca, 0);
    km_transport *t = km_transport_new(&cfg, ctx, err, sizeof(err));

    ck_assert_msg(t != NULL, "%s", err);
    SSL_CTX_free(ctx);
    return t;
}

static void set_identity(km_transport *t, const char *identity)
{
    SSL_CTX *ctx = client_ctx(identity, "ca", 0);
    ck_assert_int_eq(km_transport_set_ctx(t, ctx), 0);
    SSL_CTX_free(ctx);
}

static rd_kafka_t *client(rd_kafka_type_t type)
{
    char err[512], bootstrap[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", peer.port);
#define SET(k, v) ck_assert_msg(rd_kafka_conf_set(conf, k, v, err, sizeof(err)) == RD_KAFKA_CONF_OK, "%s", err)
    SET("bootstrap.servers", bootstrap);
    SET("security.protocol", "plaintext");   /* the transport does TLS */
    SET("broker.address.family", "v4");
    SET("linger.ms", "2");
    if (type == RD_KAFKA_CONSUMER) {
        SET("group.id", "kmtls-transport-test");
        SET("enable.auto.commit", "false");
        SET("fetch.wait.max.ms", "200");
    }
#undef SET
    rd_kafka_conf_set_connect_cb(conf, connect_cb);
    ck_assert_int_eq(rd_kafka_conf_interceptor_add_on_new(conf, "kmtls-test", on_new, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", err);
    return rk;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Polls rk until the transport has no connection of an older generation. */
static void wait_all_moved(rd_kafka_t *rk, km_transport *t, int timeout_ms)
{
    long until = now_ms() + timeout_ms;
    km_transport_counts st;

    for (;;) {
        ck_assert_int_ge(km_transport_stats(t, &st, NULL, 0), 0);
        if (st.conns_old == 0)
            return;
        ck_assert_msg(now_ms() < until, "%u connection(s) still on old credentials", st.conns_old);
        rd_kafka_poll(rk, 50);   /* also serves librdkafka's callbacks */
    }
}

START_TEST(librdkafka_reports_a_refused_tls_as_a_failed_connect)
{
    char line[1024], want[256];

    logsink_init(&ours);
    logsink_init(&theirs);
    current = transport("app-v1", "foreign");
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER);
    /* librdkafka connects to the bootstrap broker at once */
    snprintf(want, sizeof(want), "Connect to ipv4#127.0.0.1:%d failed: Connection reset by peer",
             peer.port);
    ck_assert_msg(logsink_wait(&theirs, want, 15000), "librdkafka logged:\n%s", theirs.text);
    logsink_line(&theirs, want, line, sizeof(line));
    printf("librdkafka %s logs: %s\n", rd_kafka_version_str(), line);
    ck_assert(logsink_wait(&ours, "TLS handshake failed: the broker's certificate is not trusted", 1000));
    logsink_line(&ours, "TLS handshake failed", line, sizeof(line));
    printf("the transport logs: %s\n", line);
    /* a failed connect, never a connection that came up and went */
    ck_assert(!logsink_has(&theirs, "ApiVersion"));
    ck_assert(!logsink_has(&theirs, "Disconnected"));
    rd_kafka_destroy(rk);
    km_transport_free(current);
    logsink_destroy(&ours);
    logsink_destroy(&theirs);
}
END_TEST

START_TEST(rotation_mid_produce_and_mid_consume_loses_nothing)
{
    long mark = mtls_peer_mark(&peer);
    static unsigned char seen[N_MSGS];
    char payload[32];

    logsink_init(&ours);
    logsink_init(&theirs);

    /* produce, rotating half way */
    current = transport("app-v1", "ca");
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER);
    for (int i = 0; i < N_MSGS; i++) {
        int n = snprintf(payload, sizeof(payload), "msg-%05d", i);
        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_VALUE(payload, (size_t)n),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
        if (i == N_MSGS / 2) {
            while (delivered_ok < N_MSGS / 4)
                rd_kafka_poll(p, 10);
            set_identity(current, "app-v2");
        }
        if (i % 50 == 0)
            rd_kafka_poll(p, 1);   /* keep requests in flight during the rotation */
    }
    ck_assert_int_eq(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(delivered_ok, N_MSGS);
    ck_assert_int_eq(delivered_failed, 0);
    wait_all_moved(p, current, 20000);
    km_transport_counts st;
    km_transport_stats(current, &st, NULL, 0);
    printf("producer: %llu moved in place, %llu drained, %llu drain timeouts, %u connection(s), "
           "generation %llu, %llu requests sent from librdkafka's threads\n", (unsigned long long)st.moved,
           (unsigned long long)st.drained, (unsigned long long)st.drain_timeouts, st.conns,
           (unsigned long long)st.generation, (unsigned long long)st.direct);
    ck_assert_uint_ge(st.moved, 1);
    /* librdkafka's broker threads block SIGPIPE and name the fd the
     * transport knows: the direct path is taken (whichever thread wins
     * each request, over hundreds of them some go this way) */
    ck_assert_uint_gt(st.direct, 0);
    ck_assert_uint_eq(st.drain_timeouts, 0);
    ck_assert(mtls_peer_wait_log(&peer, mark, "Certificate accepted at depth=0: CN=app-v1", 5000));
    ck_assert(mtls_peer_wait_log(&peer, mark, "Certificate accepted at depth=0: CN=app-v2", 5000));
    rd_kafka_destroy(p);
    km_transport_free(current);
    ck_assert(!logsink_has(&theirs, "ALL_BROKERS_DOWN"));

    /* consume everything, rotating half way */
    mark = mtls_peer_mark(&peer);
    current = transport("app-v1", "ca");
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
    for (int i = 0; i < 4; i++)   /* kmockd auto-creates topics with 4 partitions */
        rd_kafka_topic_partition_list_add(parts, TOPIC, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ck_assert_int_eq(rd_kafka_assign(c, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    int got = 0, dups = 0, rotated = 0;
    long until = now_ms() + 60000;
    while (got < N_MSGS && now_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m == NULL)
            continue;
        if (!m->err && m->len == 9 && memcmp(m->payload, "msg-", 4) == 0) {
            int i = atoi((const char *)m->payload + 4);
            ck_assert(i >= 0 && i < N_MSGS);
            if (seen[i]++)
                dups++;
            else
                got++;
        }
        rd_kafka_message_destroy(m);
        if (!rotated && got >= N_MSGS / 2) {
            set_identity(current, "app-v2");
            rotated = 1;
        }
    }
    ck_assert_int_eq(got, N_MSGS);
    ck_assert_int_eq(dups, 0);
    wait_all_moved(c, current, 20000);
    km_transport_stats(current, &st, NULL, 0);
    printf("consumer: %llu moved in place, %llu drain timeouts, generation %llu; %d messages, "
           "%d duplicates\n", (unsigned long long)st.moved, (unsigned long long)st.drain_timeouts,
           (unsigned long long)st.generation, got, dups);
    ck_assert_uint_ge(st.moved, 1);
    ck_assert(mtls_peer_wait_log(&peer, mark, "Certificate accepted at depth=0: CN=app-v2", 5000));
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    km_transport_free(current);
    /* librdkafka never noticed: no disconnect, no broker down */
    ck_assert(!logsink_has(&theirs, "ALL_BROKERS_DOWN"));
    ck_assert(!logsink_has(&theirs, "Disconnected"));
    if (getenv("KMTLS_TEST_VERBOSE"))
        fprintf(stderr, "librdkafka's log:\n%s\n", theirs.text);
    logsink_destroy(&ours);
    logsink_destroy(&theirs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("transport-rdkafka");
    TCase *tc = tcase_create("rdkafka");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, start_peer, stop_peer);
    tcase_add_test(tc, librdkafka_reports_a_refused_tls_as_a_failed_connect);
    tcase_add_test(tc, rotation_mid_produce_and_mid_consume_loses_nothing);
    tcase_set_timeout(tc, 240);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
